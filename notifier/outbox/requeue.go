package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/proof"
)

// RequeueFailed puts back in the queue, due at next, a notification whose
// current attempt WhatsApp accepted and then reported "failed" with a code
// worth retrying (131000, 131016, 133004, 130429, 131056): the message did
// not go out, so sending it again cannot duplicate it. It does nothing
// (requeued false) when the notification is unknown, already delivered,
// read, failed or skipped, when the report is about an earlier attempt's
// wamid, when maxAttempts are used up, or when the contact was erased; the
// caller then records the failure as usual.
func (s *Store) RequeueFailed(u StatusUpdate, next time.Time, maxAttempts int) (n notifier.Notification, requeued bool, err error) {
	err = s.batch(func(tx *bolt.Tx) error {
		requeued = false
		var found bool
		var err error
		if n, found, err = statusNote(tx, u); !found || err != nil {
			return err
		}
		switch n.Status {
		case notifier.StatusSent, notifier.StatusUncertain, notifier.StatusSending:
		default:
			return nil
		}
		if n.WAMID != "" && n.WAMID != u.WAMID || n.Attempts >= maxAttempts || !n.ErasedAt.IsZero() {
			return nil // an erased contact has nobody to send to
		}
		// The failed attempt's wamid leaves the index with it: the next
		// attempt gets its own, and an erasure removes only the current
		// one (the ID embeds the number).
		if idx := tx.Bucket(bByWAMID); u.WAMID != "" && string(idx.Get([]byte(u.WAMID))) == n.ID {
			if err := idx.Delete([]byte(u.WAMID)); err != nil {
				return err
			}
		}
		if n.Status == notifier.StatusUncertain {
			if err := tx.Bucket(bQueue).Delete(queueKey(n.NextAt, n.ID)); err != nil {
				return err
			}
		}
		if n.Status == notifier.StatusSending {
			// Our own answer is not recorded yet; Finish will find the
			// notification queued and leave it so.
			if err := tx.Bucket(bInflight).Delete([]byte(n.ID)); err != nil {
				return err
			}
		}
		// The attempt failed: a step of its message's lifecycle, recorded
		// before the wamid is cleared.
		if err := s.recordStatus(tx, n, proof.StatusFailed, u.At, proof.SourceWebhook, u.Code, u.WAMID); err != nil {
			return err
		}
		n.Status, n.NextAt, n.UpdatedAt = notifier.StatusQueued, next, s.now()
		n.WAMID, n.SentAt = "", time.Time{}
		n.ErrorCode, n.Reason = u.Code, "WhatsApp reported the attempt failed; retrying: "+u.Reason
		if err := tx.Bucket(bQueue).Put(queueKey(next, n.ID), nil); err != nil {
			return err
		}
		requeued = true
		return putNote(tx, n)
	})
	if err != nil {
		// Not the wamid: it embeds the number, and the error is logged.
		return n, false, fmt.Errorf("requeue after a failed status: %w", err)
	}
	return n, requeued, nil
}
