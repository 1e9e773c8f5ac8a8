package outbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
)

// KPI counters live in the store, next to the state transitions they
// count and written in the same transactions, so a redelivered webhook
// (the transition is already recorded) or a restart (counters are on disk)
// never counts twice. Each notification remembers the stages already
// counted for it (Notification.KPI).
var (
	bKPIs      = []byte("kpis")      // template \x00 language \x00 variant \x00 stage → count
	bReplyable = []byte("replyable") // phone ref (number or wa_id) → ID of the last delivered buyer message
)

// KPI stages of a message, as bits of Notification.KPI.
const (
	kpiAccepted  uint16 = 1 << iota // the Cloud API accepted the send
	kpiSent                         // WhatsApp reported it sent (or a later status)
	kpiDelivered                    // delivered (or read)
	kpiRead
	kpiFailed  // failed for good
	kpiReplied // the recipient wrote within 24 h of its delivery
)

// ReplyWindow is how long after a delivery an inbound message counts as a
// reply to it: WhatsApp's customer-service window.
const ReplyWindow = 24 * time.Hour

// Stage names, as counted and reported.
const (
	StageAccepted  = "accepted"
	StageSent      = "sent"
	StageDelivered = "delivered"
	StageRead      = "read"
	StageClicked   = "clicked"
	StageReplied   = "replied"
	StageFailed    = "failed"
)

var stageNames = map[uint16]string{kpiAccepted: StageAccepted, kpiSent: StageSent, kpiDelivered: StageDelivered,
	kpiRead: StageRead, kpiFailed: StageFailed, kpiReplied: StageReplied}

// Cohort is what KPIs are counted by: template, language, variant.
type Cohort struct {
	Template string `json:"template"`
	Language string `json:"language"`
	Variant  string `json:"variant"`
}

// LanguageErased stands for the language of a message whose contact was
// erased before a later status arrived: the language went with it.
const LanguageErased = "erased"

func cohortOf(n notifier.Notification) Cohort {
	c := Cohort{Template: n.Message.Template, Language: n.Message.Language, Variant: n.Variant}
	if c.Language == "" {
		c.Language = LanguageErased
	}
	if c.Variant == "" {
		c.Variant = "A"
	}
	return c
}

func (c Cohort) key(stage string) []byte {
	return []byte(c.Template + "\x00" + c.Language + "\x00" + c.Variant + "\x00" + stage)
}

// stagesOf are the stages a status reported by WhatsApp implies.
func stagesOf(s notifier.Status) uint16 {
	switch s {
	case notifier.StatusSent:
		return kpiAccepted | kpiSent
	case notifier.StatusDelivered:
		return kpiAccepted | kpiSent | kpiDelivered
	case notifier.StatusRead:
		return kpiAccepted | kpiSent | kpiDelivered | kpiRead
	}
	return 0
}

// markKPI counts the stages of n not counted yet and records them on n
// (the caller writes n). code is the error code of a failure.
func markKPI(tx *bolt.Tx, n *notifier.Notification, stages uint16, code int, at time.Time) error {
	fresh := stages &^ n.KPI
	if fresh == 0 || n.Status == notifier.StatusSkipped {
		return nil
	}
	c := cohortOf(*n)
	for bit, name := range stageNames {
		if fresh&bit == 0 {
			continue
		}
		if bit == kpiFailed {
			name = StageFailed + ":" + strconv.Itoa(code)
		}
		if err := addCount(tx, c.key(name), 1); err != nil {
			return err
		}
	}
	n.KPI |= fresh
	if fresh&kpiDelivered != 0 && n.Recipient == notifier.RoleBuyer && n.PhoneRef != "" {
		if n.DeliveredAt.IsZero() {
			n.DeliveredAt = at
		}
		if err := tx.Bucket(bReplyable).Put([]byte(n.PhoneRef), []byte(n.ID)); err != nil {
			return err
		}
	}
	return nil
}

func addCount(tx *bolt.Tx, key []byte, d uint64) error {
	b := tx.Bucket(bKPIs)
	var cur uint64
	if v := b.Get(key); len(v) == 8 {
		cur = binary.BigEndian.Uint64(v)
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], cur+d)
	return b.Put(key, buf[:])
}

// KPI is the counts of one cohort.
type KPI struct {
	Cohort
	Accepted  uint64         `json:"accepted"`
	Sent      uint64         `json:"sent"`
	Delivered uint64         `json:"delivered"`
	Read      uint64         `json:"read"`
	Clicked   uint64         `json:"clicked"`
	Replied   uint64         `json:"replied"`
	Failed    map[int]uint64 `json:"failed"` // by error code
}

// KPIs returns the counts of every cohort, sorted by template, language
// and variant (the bucket's key order).
func (s *Store) KPIs() ([]KPI, error) {
	var out []KPI
	err := s.view(func(tx *bolt.Tx) error {
		out = out[:0]
		idx := map[Cohort]int{}
		return tx.Bucket(bKPIs).ForEach(func(k, v []byte) error {
			parts := strings.SplitN(string(k), "\x00", 4)
			if len(parts) != 4 || len(v) != 8 {
				return nil
			}
			c := Cohort{Template: parts[0], Language: parts[1], Variant: parts[2]}
			i, ok := idx[c]
			if !ok {
				i = len(out)
				idx[c] = i
				out = append(out, KPI{Cohort: c, Failed: map[int]uint64{}})
			}
			k2, n := &out[i], binary.BigEndian.Uint64(v)
			switch stage := parts[3]; stage {
			case StageAccepted:
				k2.Accepted = n
			case StageSent:
				k2.Sent = n
			case StageDelivered:
				k2.Delivered = n
			case StageRead:
				k2.Read = n
			case StageClicked:
				k2.Clicked = n
			case StageReplied:
				k2.Replied = n
			default:
				if code, ok := strings.CutPrefix(stage, StageFailed+":"); ok {
					c, _ := strconv.Atoi(code)
					k2.Failed[c] += n
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read KPIs: %w", err)
	}
	return out, nil
}

// RecordClick counts one open of a tracking link issued for cohort c (the
// link's signed claims say which).
func (s *Store) RecordClick(c Cohort) error {
	if c.Template == "" {
		return nil
	}
	if c.Language == "" {
		c.Language = LanguageErased
	}
	if c.Variant == "" {
		c.Variant = "A"
	}
	err := s.batch(func(tx *bolt.Tx) error { return addCount(tx, c.key(StageClicked), 1) })
	if err != nil {
		return fmt.Errorf("count a tracking-link open: %w", err)
	}
	return nil
}

// RecordReply counts an inbound message as a reply to the message it
// quotes (context WAMID) or, without one, to the last buyer message
// delivered to its sender (by the number's or the wa_id's reference), if
// that was delivered less than ReplyWindow before. A message is counted
// replied once, however many messages answer it. It reports whether it
// counted.
func (s *Store) RecordReply(from, contextWAMID string, at time.Time) (bool, error) {
	counted := false
	err := s.batch(func(tx *bolt.Tx) error {
		counted = false
		var id []byte
		if contextWAMID != "" {
			id = tx.Bucket(bByWAMID).Get([]byte(contextWAMID))
		}
		if id == nil {
			id = tx.Bucket(bReplyable).Get([]byte(s.refs.PhoneRef(from)))
		}
		if id == nil {
			return nil
		}
		n, err := getNote(tx, string(id))
		if err != nil {
			return nil // purged since: nothing to count
		}
		if n.KPI&kpiDelivered == 0 || n.KPI&kpiReplied != 0 || n.DeliveredAt.IsZero() {
			return nil
		}
		if d := at.Sub(n.DeliveredAt); d < -time.Minute || d > ReplyWindow {
			return nil
		}
		if err := markKPI(tx, &n, kpiReplied, 0, at); err != nil {
			return err
		}
		counted = true
		return putNote(tx, n)
	})
	if err != nil {
		return false, fmt.Errorf("count a reply: %w", err)
	}
	return counted, nil
}

// linkReplyable files the last delivered message also under the wa_id
// WhatsApp delivered it to, which a reply comes from.
func linkReplyable(tx *bolt.Tx, ref string, n notifier.Notification) error {
	if ref == "" || n.Recipient != notifier.RoleBuyer || n.KPI&kpiDelivered == 0 {
		return nil
	}
	b := tx.Bucket(bReplyable)
	if cur := b.Get([]byte(ref)); bytes.Equal(cur, []byte(n.ID)) {
		return nil
	}
	return b.Put([]byte(ref), []byte(n.ID))
}

// purgeReplyable forgets the last delivered message of recipients whose
// reply window has closed (or whose message was purged): the index only
// serves the next ReplyWindow.
func (s *Store) purgeReplyable() error {
	now := s.now()
	return s.update(func(tx *bolt.Tx) error {
		return deleteWhere(tx.Bucket(bReplyable), func(_, v []byte) bool {
			n, err := getNote(tx, string(v))
			return err != nil || now.Sub(n.DeliveredAt) > ReplyWindow
		})
	})
}

// deleteWhere deletes the keys of b for which drop says so, collected
// first: bbolt's cursor must not move over keys deleted under it.
func deleteWhere(b *bolt.Bucket, drop func(k, v []byte) bool) error {
	var gone [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if drop(k, v) {
			gone = append(gone, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// forgetReplyable drops the reply index's entries for the notifications
// ids (an erased contact's): nothing about the buyer is left to match.
func forgetReplyable(tx *bolt.Tx, ids []string) error {
	erased := map[string]bool{}
	for _, id := range ids {
		erased[id] = true
	}
	return deleteWhere(tx.Bucket(bReplyable), func(_, v []byte) bool { return erased[string(v)] })
}
