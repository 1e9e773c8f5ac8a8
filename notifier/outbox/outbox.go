// Package outbox is the notifier's durable state in one bbolt file: the
// event checkpoint, the notifications (the outbox proper), the send queue,
// opt-outs and daily per-recipient counts. Recording an event's
// notifications and advancing the checkpoint happen in one bbolt
// transaction, so after a crash either both are on disk or neither is.
//
// The file holds personal data only while it serves a message: phone
// numbers are stored under keyed references (refs.go), skipped
// notifications keep nothing personal and an erased contact leaves nothing
// behind (personal.go), old notifications go (retention.go), and the file
// is rewritten after deletions so freed pages keep no copies (compact.go).
package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
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
	path string
	refs notifier.RefKey
	now  func() time.Time

	// mu guards db: every read and write holds it shared; Compact holds it
	// alone while it swaps the file.
	mu sync.RWMutex
	db *bolt.DB
	// compact is signalled when deletions left freed pages with old data.
	compact chan struct{}
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests of time-dependent rules.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRefKey sets the key of phone references (notifier.RefKey). Without
// it Open makes a random key, good for this process only: the store records
// the key's fingerprint, so reopening the file under another key fails.
func WithRefKey(k notifier.RefKey) Option { return func(s *Store) { s.refs = k } }

// Open opens (creating if needed) the store at path. bbolt holds an
// exclusive lock on the file, so a second notifier on the same file fails
// here after timeout instead of corrupting state.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, now: time.Now, compact: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	if s.refs.IsZero() {
		k, err := randomRefKey()
		if err != nil {
			return nil, err
		}
		s.refs = k
	}
	db, err := openDB(path)
	if err != nil {
		return nil, err
	}
	// A rewrite interrupted by a crash leaves its half-written copy; it
	// is ours to remove now that we hold the file's lock.
	if err := os.Remove(compactPath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.Close()
		return nil, fmt.Errorf("remove unfinished rewrite of outbox %s: %w", path, err)
	}
	s.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMeta, bNotes, bByShipment, bByWAMID, bQueue, bInflight, bOptOuts, bCaps,
			bConsent, bConsentMsgs, bWALinks, bParked, bParkedByShipment, bKPIs, bReplyable} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		for _, b := range statusBuckets { // proof of notification: statusrecords.go
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		for _, b := range conversationBkts {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := initAnchorStoreID(tx); err != nil {
			return err
		}
		if err := s.adoptRefKey(tx); err != nil {
			return err
		}
		if tx.Bucket(bMeta).Get(kCompact) != nil {
			s.wantCompaction() // deleted data still in freed pages: the last run stopped first
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init outbox %s: %w", path, err)
	}
	return s, nil
}

func openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", path, err)
	}
	return db, nil
}

// ErrClosed is returned after Close, or after a failed rewrite of the file.
var ErrClosed = errors.New("outbox is closed")

// use runs fn on the open file, sharing it with other calls; Compact
// waits for them before it swaps the file.
func (s *Store) use(fn func(*bolt.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return fn(s.db)
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.use(func(db *bolt.DB) error { return db.View(fn) })
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.use(func(db *bolt.DB) error { return db.Update(fn) })
}

func (s *Store) batch(fn func(*bolt.Tx) error) error {
	return s.use(func(db *bolt.DB) error { return db.Batch(fn) })
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// PhoneRef is the keyed reference the store files phone under, for logs
// that must tell recipients apart without naming them.
func (s *Store) PhoneRef(phone string) string { return s.refs.PhoneRef(phone) }

// MessageRef is the keyed reference of a WhatsApp message ID (wamid), for
// logs and the consent de-duplication: Meta's IDs embed a number.
func (s *Store) MessageRef(wamid string) string { return s.refs.MessageRef(wamid) }

// Ping checks the store can still read, for readiness.
func (s *Store) Ping() error {
	return s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			return errors.New("outbox not initialised")
		}
		return nil
	})
}

// Checkpoint returns the position of the last fully recorded event.
func (s *Store) Checkpoint() (notifier.Checkpoint, error) {
	var cp notifier.Checkpoint
	err := s.view(func(tx *bolt.Tx) error {
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
	CapUsed(phone, day string) int
}

// txView is the View of one transaction. Plans that write (EraseContact)
// reach the transaction through it and leave their error in err.
type txView struct {
	tx   *bolt.Tx
	refs notifier.RefKey
	now  time.Time
	err  error
	// erased is set when the transaction deleted personal data, which
	// lingers in freed pages until the file is rewritten.
	erased bool
}

func (v *txView) OptedOut(phone string) bool {
	return optedOut(v.tx, v.refs, phone)
}

// SentOnDay is CapUsed for the UTC day of day.
func (v *txView) SentOnDay(phone string, day time.Time) int {
	return v.CapUsed(phone, day.UTC().Format(capDay))
}

// CapUsed is how many capped messages phone's day (2006-01-02; the
// recipient's local day, policy.DayLayout) holds.
func (v *txView) CapUsed(phone, day string) int {
	b := v.tx.Bucket(bCaps).Get(capKey(v.refs.PhoneRef(phone), day))
	if len(b) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(b))
}

func capKey(ref, day string) []byte {
	return []byte(day + "/" + ref)
}

// capDayOf is the day a capped notification counts against: the local day
// the policy chose, else (no policy) the UTC day of its event.
func capDayOf(n notifier.Notification) string {
	if n.CapDay != "" {
		return n.CapDay
	}
	return n.EventTime.UTC().Format(capDay)
}

const capDay = "2006-01-02"

// CountsTowardCap reports whether a notification uses up the recipient's
// daily allowance; only non-urgent buyer messages do, operators' alerts
// and urgent kinds (policy.urgent_events) are never capped.
func CountsTowardCap(n notifier.Notification) bool {
	return n.Recipient == notifier.RoleBuyer && n.Status == notifier.StatusQueued && !n.Urgent
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
	var erased bool
	err := s.update(func(tx *bolt.Tx) error {
		written = written[:0]
		now := s.now()
		nb := tx.Bucket(bNotes)
		v := &txView{tx: tx, refs: s.refs, now: now}
		for _, plan := range plans {
			ns := plan(v)
			if v.err != nil {
				return v.err
			}
			for _, n := range ns {
				if nb.Get([]byte(n.ID)) != nil {
					continue
				}
				n.CreatedAt, n.UpdatedAt = now, now
				if n.Phone != "" {
					n.PhoneRef = s.refs.PhoneRef(n.Phone)
				}
				if n.Status == notifier.StatusQueued {
					if n.NextAt.IsZero() {
						n.NextAt = now
					}
					if err := tx.Bucket(bQueue).Put(queueKey(n.NextAt, n.ID), nil); err != nil {
						return err
					}
				}
				if CountsTowardCap(n) && n.Phone != "" {
					day := capDayOf(n)
					c := v.CapUsed(n.Phone, day)
					var buf [8]byte
					binary.BigEndian.PutUint64(buf[:], uint64(c+1))
					if err := tx.Bucket(bCaps).Put(capKey(n.PhoneRef, day), buf[:]); err != nil {
						return err
					}
				}
				if err := indexBuyer(tx, s.refs, n); err != nil {
					return err
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
		erased = v.erased
		if erased {
			if err := markForCompaction(tx); err != nil {
				return err
			}
		}
		b, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put(kCheckpoint, b)
	})
	if err != nil {
		return nil, fmt.Errorf("record events up to %s in block %d: %w", cp.TxID, cp.Block, err)
	}
	if erased {
		s.wantCompaction()
	}
	return written, nil
}

// Get returns one notification.
func (s *Store) Get(id string) (notifier.Notification, error) {
	var n notifier.Notification
	err := s.view(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
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

// putNote writes n. It is the one place notifications reach the file, so
// the rules that a skipped notification keeps nothing personal, and an
// erased one nothing at all, hold for every path that skips or updates one.
func putNote(tx *bolt.Tx, n notifier.Notification) error {
	if n.Status == notifier.StatusSkipped || !n.ErasedAt.IsZero() {
		n = n.WithoutContact()
	}
	if !n.ErasedAt.IsZero() {
		n.WAMID = ""
	}
	v, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification %s: %w", n.ID, err)
	}
	return tx.Bucket(bNotes).Put([]byte(n.ID), v)
}
