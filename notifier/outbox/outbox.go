// Package outbox is the notifier's durable state in one bbolt file: the
// event checkpoint, the notifications (the outbox proper), the send queue,
// opt-outs and daily per-recipient counts. Recording an event's
// notifications and advancing the checkpoint happen in one bbolt
// transaction, so after a crash either both are on disk or neither is.
package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
)

var (
	bMeta       = []byte("meta")
	bNotes      = []byte("notifications")
	bByShipment = []byte("by_shipment")
	bByWAMID    = []byte("by_wamid")
	bQueue      = []byte("queue")    // dueAt(8) + id → nil: queued and uncertain notifications
	bInflight   = []byte("inflight") // id → nil: notifications whose attempt is in flight
	bOptOuts    = []byte("optouts")  // phone ref → OptOut
	bCaps       = []byte("caps")     // day/phone ref → count
	kCheckpoint = []byte("checkpoint")
)

// ErrNotFound is returned for unknown notification IDs.
var ErrNotFound = errors.New("notification not found")

// Store is the bbolt-backed outbox.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests of time-dependent rules.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens (creating if needed) the store at path. bbolt holds an
// exclusive lock on the file, so a second notifier on the same file fails
// here after timeout instead of corrupting state.
func Open(path string, opts ...Option) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	s := &Store{db: db, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{bMeta, bNotes, bByShipment, bByWAMID, bQueue, bInflight, bOptOuts, bCaps}, extraBuckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init outbox %s: %w", path, err)
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the store can still read, for readiness.
func (s *Store) Ping() error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			return errors.New("outbox not initialised")
		}
		return nil
	})
}

// Checkpoint returns the position of the last fully recorded event.
func (s *Store) Checkpoint() (notifier.Checkpoint, error) {
	var cp notifier.Checkpoint
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bMeta).Get(kCheckpoint)
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &cp)
	})
	if err != nil {
		return cp, fmt.Errorf("read checkpoint: %w", err)
	}
	return cp, nil
}

// View is what a decision may consult inside the recording transaction, so
// caps and opt-outs are judged against exactly the state being written.
type View interface {
	OptedOut(phone string) bool
	SentOnDay(phone string, day time.Time) int
}

type txView struct{ tx *bolt.Tx }

func (v txView) OptedOut(phone string) bool { return optedOut(v.tx, phone) }

func (v txView) SentOnDay(phone string, day time.Time) int {
	b := v.tx.Bucket(bCaps).Get(capKey(phone, day))
	if len(b) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(b))
}

func capKey(phone string, day time.Time) []byte {
	return []byte(day.UTC().Format("2006-01-02") + "/" + notifier.PhoneRef(phone))
}

// CountsTowardCap reports whether a notification uses up the recipient's
// daily allowance; only buyer messages do, operators' alerts are never capped.
func CountsTowardCap(n notifier.Notification) bool {
	return n.Recipient == notifier.RoleBuyer && n.Status == notifier.StatusQueued
}

// Plan decides the notifications of one event, reading the state it is
// about to write to. It must not do I/O: it runs inside the transaction.
type Plan func(View) []notifier.Notification

// Record writes the notifications of one or more consecutive events and
// advances the checkpoint to cp, all in one transaction. Plans run in
// order, each seeing what the previous ones wrote (so a daily cap holds
// within a batch). Notifications whose ID already exists are left as they
// are, so replaying an event is harmless. It returns the notifications
// newly written.
func (s *Store) Record(ctx context.Context, cp notifier.Checkpoint, plans ...Plan) ([]notifier.Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var written []notifier.Notification
	err := s.db.Update(func(tx *bolt.Tx) error {
		written = written[:0]
		now := s.now()
		nb := tx.Bucket(bNotes)
		for _, plan := range plans {
			for _, n := range plan(txView{tx}) {
				if nb.Get([]byte(n.ID)) != nil {
					continue
				}
				n.CreatedAt, n.UpdatedAt = now, now
				if n.Status == notifier.StatusQueued {
					if n.NextAt.IsZero() {
						n.NextAt = now
					}
					if err := tx.Bucket(bQueue).Put(queueKey(n.NextAt, n.ID), nil); err != nil {
						return err
					}
				}
				if CountsTowardCap(n) && n.Phone != "" {
					c := txView{tx}.SentOnDay(n.Phone, n.EventTime)
					var buf [8]byte
					binary.BigEndian.PutUint64(buf[:], uint64(c+1))
					if err := tx.Bucket(bCaps).Put(capKey(n.Phone, n.EventTime), buf[:]); err != nil {
						return err
					}
				}
				if err := putNote(tx, n); err != nil {
					return err
				}
				if err := tx.Bucket(bByShipment).Put(shipmentKey(n.ShipmentID, n.ID), nil); err != nil {
					return err
				}
				written = append(written, n)
			}
		}
		v, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put(kCheckpoint, v)
	})
	if err != nil {
		return nil, fmt.Errorf("record events up to %s in block %d: %w", cp.TxID, cp.Block, err)
	}
	return written, nil
}

// Get returns one notification.
func (s *Store) Get(id string) (notifier.Notification, error) {
	var n notifier.Notification
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = getNote(tx, id)
		return err
	})
	return n, err
}

// ByShipment returns the notifications of a shipment, oldest first.
func (s *Store) ByShipment(shipmentID string) ([]notifier.Notification, error) {
	var out []notifier.Notification
	prefix := []byte(shipmentID + "\x00")
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bByShipment).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n, err := getNote(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", shipmentID, err)
	}
	sortByCreated(out)
	return out, nil
}

// CountByStatus counts notifications per status, for the status endpoint
// and gauges. It reads every record, so call it on demand, not per send.
func (s *Store) CountByStatus() (map[notifier.Status]int, error) {
	out := map[notifier.Status]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bNotes).ForEach(func(_, v []byte) error {
			var n notifier.Notification
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			out[n.Status]++
			return nil
		})
	})
	return out, err
}

func sortByCreated(ns []notifier.Notification) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && ns[j].CreatedAt.Before(ns[j-1].CreatedAt); j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

func queueKey(due time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(max(due.UnixNano(), 0)))
	return append(k, id...)
}

func shipmentKey(shipmentID, id string) []byte {
	return []byte(shipmentID + "\x00" + id)
}

func getNote(tx *bolt.Tx, id string) (notifier.Notification, error) {
	var n notifier.Notification
	v := tx.Bucket(bNotes).Get([]byte(id))
	if v == nil {
		return n, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := json.Unmarshal(v, &n); err != nil {
		return n, fmt.Errorf("decode notification %s: %w", id, err)
	}
	return n, nil
}

func putNote(tx *bolt.Tx, n notifier.Notification) error {
	v, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	return tx.Bucket(bNotes).Put([]byte(n.ID), v)
}
