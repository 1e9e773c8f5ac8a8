package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/proof"
)

// Gate lets the sender hold back a due notification (per-recipient
// pacing): it returns ok, or the earliest time the notification may go.
type Gate func(n notifier.Notification) (ok bool, notBefore time.Time)

// Claim marks up to limit due notifications as sending, in one
// transaction, and returns them. The "sending" mark is on disk before any
// HTTP call is made, so after a crash the notifier knows which sends may
// have happened (see Recover).
func (s *Store) Claim(limit int, gate Gate) ([]notifier.Notification, error) {
	now := s.now()
	var out []notifier.Notification
	err := s.update(func(tx *bolt.Tx) error {
		out = out[:0]
		q := tx.Bucket(bQueue)
		var later [][2][]byte // requeue after iteration: cursor must not see its own writes
		var del [][]byte
		c := q.Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
				break
			}
			id := string(k[8:])
			n, err := getNote(tx, id)
			if errors.Is(err, ErrNotFound) {
				del = append(del, append([]byte(nil), k...))
				continue
			}
			if err != nil {
				return err
			}
			if !n.ErasedAt.IsZero() {
				// Requeued after its contact was erased: nobody to send to.
				del = append(del, append([]byte(nil), k...))
				n.Status, n.Reason, n.UpdatedAt = notifier.StatusSkipped, ReasonContactDeleted, now
				if err := putNote(tx, n); err != nil {
					return err
				}
				continue
			}
			if gate != nil {
				if ok, notBefore := gate(n); !ok {
					del = append(del, append([]byte(nil), k...))
					n.NextAt = notBefore
					later = append(later, [2][]byte{queueKey(notBefore, id), nil})
					if err := putNote(tx, n); err != nil {
						return err
					}
					continue
				}
			}
			del = append(del, append([]byte(nil), k...))
			n.Status = notifier.StatusSending
			n.Attempts++
			n.UpdatedAt = now
			if err := putNote(tx, n); err != nil {
				return err
			}
			if err := tx.Bucket(bInflight).Put([]byte(id), nil); err != nil {
				return err
			}
			out = append(out, n)
		}
		for _, k := range del {
			if err := q.Delete(k); err != nil {
				return err
			}
		}
		for _, kv := range later {
			if err := q.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due notifications: %w", err)
	}
	return out, nil
}

// NextDue returns when the earliest queued notification is due, or false
// if the queue is empty.
func (s *Store) NextDue() (time.Time, bool, error) {
	var due time.Time
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bQueue).Cursor().First()
		if k != nil {
			due, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))), true
		}
		return nil
	})
	return due, ok, err
}

// Result is the outcome of one attempt, recorded by Finish.
type Result struct {
	ID     string
	Status notifier.Status // sent, queued (retry), uncertain or failed
	WAMID  string
	At     time.Time
	NextAt time.Time // for queued and uncertain
	Code   int
	Reason string
	// Refund undoes the attempt count, for attempts that never reached
	// the provider because sending was paused.
	Refund bool
}

// Finish records the outcome of an attempt. Concurrent calls are coalesced
// into one bbolt transaction (db.Batch), which is what lets many workers
// record results without one fsync each.
func (s *Store) Finish(r Result) (notifier.Notification, error) {
	var out notifier.Notification
	err := s.batch(func(tx *bolt.Tx) error {
		n, err := getNote(tx, r.ID)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bInflight).Delete([]byte(r.ID)); err != nil {
			return err
		}
		if n.Status != notifier.StatusSending {
			// A webhook already settled it (e.g. sent arrived before our
			// own answer was recorded): keep the later state, add the wamid.
			if r.WAMID != "" && n.WAMID == "" {
				if err := setWAMID(tx, &n, r.WAMID); err != nil {
					return err
				}
				if err := putNote(tx, n); err != nil {
					return err
				}
			}
			out = n
			if r.Status == notifier.StatusSent {
				return s.recordStatus(tx, n, proof.StatusAccepted, r.At, proof.SourceSendResponse, 0, r.WAMID)
			}
			return nil
		}
		n.UpdatedAt = r.At
		n.ErrorCode, n.Reason = r.Code, r.Reason
		if r.Refund && n.Attempts > 0 {
			n.Attempts--
		}
		switch r.Status {
		case notifier.StatusSent:
			n.SentAt = r.At
			if err := setWAMID(tx, &n, r.WAMID); err != nil {
				return err
			}
			if err := markKPI(tx, &n, kpiAccepted, 0, r.At); err != nil {
				return err
			}
		case notifier.StatusQueued, notifier.StatusUncertain:
			n.NextAt = r.NextAt
			if err := tx.Bucket(bQueue).Put(queueKey(r.NextAt, n.ID), nil); err != nil {
				return err
			}
		case notifier.StatusFailed:
			if err := markKPI(tx, &n, kpiFailed, r.Code, r.At); err != nil {
				return err
			}
		default:
			return fmt.Errorf("finish %s: unexpected status %s", r.ID, r.Status)
		}
		n.Status = r.Status
		out = n
		switch r.Status {
		case notifier.StatusSent:
			err = s.recordStatus(tx, n, proof.StatusAccepted, r.At, proof.SourceSendResponse, 0, r.WAMID)
		case notifier.StatusFailed:
			err = s.recordStatus(tx, n, proof.StatusFailed, r.At, proof.SourceSendResponse, r.Code, "")
		}
		if err != nil {
			return err
		}
		return putNote(tx, n)
	})
	if err != nil {
		return out, fmt.Errorf("record attempt of %s: %w", r.ID, err)
	}
	return out, nil
}

// ReasonRecovered is the reason a notification keeps once Recover found it
// in flight: its send's answer, and so its "accepted" status record, was
// lost with the process; its webhooks (sent, delivered, read) still come.
const ReasonRecovered = "notifier stopped during an attempt; waiting for a status webhook before resending"

// Recover turns every notification left "sending" by a crash into
// "uncertain", due after window. The attempt may or may not have reached
// the provider; waiting for its status webhook (which carries the
// notification ID as callback data) before resending is what keeps a crash
// from turning into a duplicate. It returns how many it found.
func (s *Store) Recover(window time.Duration) (int, error) {
	now := s.now()
	count := 0
	err := s.update(func(tx *bolt.Tx) error {
		count = 0
		in := tx.Bucket(bInflight)
		var ids [][]byte
		if err := in.ForEach(func(k, _ []byte) error {
			ids = append(ids, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			if err := in.Delete(id); err != nil {
				return err
			}
			n, err := getNote(tx, string(id))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if n.Status != notifier.StatusSending {
				continue
			}
			n.Status = notifier.StatusUncertain
			n.Reason = ReasonRecovered
			n.NextAt = now.Add(window)
			n.UpdatedAt = now
			if err := tx.Bucket(bQueue).Put(queueKey(n.NextAt, n.ID), nil); err != nil {
				return err
			}
			if err := putNote(tx, n); err != nil {
				return err
			}
			count++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recover in-flight notifications: %w", err)
	}
	return count, nil
}

// StatusUpdate is a delivery status reported by the provider's webhook.
type StatusUpdate struct {
	WAMID        string
	CallbackData string // our notification ID, echoed back by the provider
	Status       notifier.Status
	At           time.Time
	Code         int
	Reason       string
	// RecipientID is the wa_id WhatsApp delivered to; a reply comes from it.
	RecipientID string
}

// ApplyStatus moves a notification forward according to a webhook. It
// finds the notification by wamid or, for sends whose answer was lost, by
// the callback data; an unknown message is ignored (found = false).
// Statuses never move backwards: a late "sent" after "read" changes nothing.
func (s *Store) ApplyStatus(u StatusUpdate) (before, after notifier.Notification, found bool, err error) {
	err = s.batch(func(tx *bolt.Tx) error {
		var n notifier.Notification
		var err error
		if n, found, err = statusNote(tx, u); !found || err != nil {
			return err
		}
		before = n
		after = n
		if n.Status == notifier.StatusSkipped {
			return nil
		}
		progress := u.Status.Rank() > n.Status.Rank()
		if u.Status == notifier.StatusFailed {
			// A failure report counts only before delivery.
			progress = n.Status.Rank() < notifier.StatusDelivered.Rank()
		}
		// KPIs count what WhatsApp reported, once per message, even when
		// the status does not move (a "sent" after our own answer).
		kpiBefore := n.KPI
		if err := markKPI(tx, &n, stagesOf(u.Status), 0, u.At); err != nil {
			return err
		}
		if err := linkReplyable(tx, s.refs.PhoneRefOrEmpty(u.RecipientID), n); err != nil {
			return err
		}
		if !progress {
			after = n
			if n.KPI != kpiBefore {
				if err := putNote(tx, n); err != nil {
					return err
				}
			}
			// WhatsApp's "sent" after our own "accepted", or a
			// "delivered" overtaken by "read": not a change of the
			// notification, but a true step of its message's lifecycle.
			if u.Status != notifier.StatusFailed && u.WAMID != "" && u.WAMID == n.WAMID {
				return s.recordStatus(tx, n, string(u.Status), u.At, proof.SourceWebhook, 0, u.WAMID)
			}
			return nil
		}
		if u.Status == notifier.StatusFailed {
			if err := markKPI(tx, &n, kpiFailed, u.Code, u.At); err != nil {
				return err
			}
		}
		if n.Status == notifier.StatusQueued || n.Status == notifier.StatusUncertain {
			if err := tx.Bucket(bQueue).Delete(queueKey(n.NextAt, n.ID)); err != nil {
				return err
			}
		}
		if n.Status == notifier.StatusSending {
			// Our own attempt is still in flight; Finish will see the
			// settled status and only add the wamid.
			if err := tx.Bucket(bInflight).Delete([]byte(n.ID)); err != nil {
				return err
			}
		}
		if n.WAMID == "" {
			if err := setWAMID(tx, &n, u.WAMID); err != nil {
				return err
			}
		}
		if n.SentAt.IsZero() && u.Status != notifier.StatusFailed {
			n.SentAt = u.At
		}
		n.Status = u.Status
		if u.Status == notifier.StatusFailed {
			n.ErrorCode, n.Reason = u.Code, u.Reason
		}
		n.UpdatedAt = s.now()
		after = n
		code := 0
		if u.Status == notifier.StatusFailed {
			code = u.Code
		}
		if err := s.recordStatus(tx, n, string(u.Status), u.At, proof.SourceWebhook, code, u.WAMID); err != nil {
			return err
		}
		return putNote(tx, n)
	})
	if err != nil {
		return before, after, false, fmt.Errorf("apply status %s: %w", u.Status, err)
	}
	return before, after, found, nil
}

// statusNote finds the notification a status webhook is about: by its
// wamid or, for a send whose answer (with the wamid) was lost, by the
// callback data, our notification ID. found is false for an unknown message.
func statusNote(tx *bolt.Tx, u StatusUpdate) (n notifier.Notification, found bool, err error) {
	id := tx.Bucket(bByWAMID).Get([]byte(u.WAMID))
	if id == nil && u.CallbackData != "" && tx.Bucket(bNotes).Get([]byte(u.CallbackData)) != nil {
		id = []byte(u.CallbackData)
	}
	if id == nil {
		return n, false, nil
	}
	n, err = getNote(tx, string(id))
	return n, err == nil, err
}

// OptedOut reports whether phone opted out (consent.go: by any of its
// WhatsApp IDs, the latest change by WhatsApp's timestamp).
func (s *Store) OptedOut(phone string) (bool, error) {
	var out bool
	err := s.view(func(tx *bolt.Tx) error {
		out = optedOut(tx, s.refs, phone)
		return nil
	})
	return out, err
}

// SkipClaimed marks a claimed notification skipped: the recipient opted
// out between queueing and sending.
func (s *Store) SkipClaimed(id, reason string) error {
	err := s.batch(func(tx *bolt.Tx) error {
		n, err := getNote(tx, id)
		if err != nil {
			return err
		}
		if n.Status != notifier.StatusSending {
			return nil
		}
		if err := tx.Bucket(bInflight).Delete([]byte(id)); err != nil {
			return err
		}
		n.Status, n.Reason, n.UpdatedAt = notifier.StatusSkipped, reason, s.now()
		return putNote(tx, n)
	})
	if err != nil {
		return fmt.Errorf("skip %s: %w", id, err)
	}
	return nil
}
