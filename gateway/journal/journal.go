// Package journal keeps, durably, what the gateway must remember across a
// restart: each Idempotency-Key with the transactions it started and the
// response it produced, and the status of transactions submitted in
// asynchronous mode. It is a single bbolt file, locked by one gateway process
// at a time.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketKeys = []byte("idempotency")
	bucketTxs  = []byte("transactions")
)

// Journal is the durable store. Its methods are safe for concurrent use.
type Journal struct {
	db  *bolt.DB
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	inflight map[string]bool // idempotency entries owned by a live request
}

// Options tune a journal.
type Options struct {
	// TTL is how long an idempotency key is remembered; a transaction
	// status is kept as long. Default 24h.
	TTL time.Duration
	// Now is the clock (default time.Now); the API compares its own clock
	// with the journal's stamps, so tests give both the same one.
	Now func() time.Time
}

// Open opens (or creates) the journal file.
func Open(path string, o Options) (*Journal, error) {
	ttl := o.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open journal %s: another process holds it (is a second gateway running with the same data directory?)", path)
		}
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKeys, bucketTxs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return &Journal{db: db, ttl: ttl, now: o.Now, inflight: map[string]bool{}}, nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.db.Close() }

// Entry is what is remembered about one Idempotency-Key.
type Entry struct {
	Scope       string            `json:"scope"` // the API key's name: keys of different clients never collide
	Key         string            `json:"key"`
	Fingerprint string            `json:"fingerprint"` // digest of method, path and body
	Op          string            `json:"op"`          // the operation, to rebuild a response from the ledger
	Identity    string            `json:"identity"`
	Target      string            `json:"target,omitempty"` // the shipment the request is about
	TxIDs       []string          `json:"txIds,omitempty"`  // every transaction started, oldest first
	Done        bool              `json:"done"`
	Status      int               `json:"status,omitempty"`
	Header      map[string]string `json:"header,omitempty"`
	Body        []byte            `json:"body,omitempty"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
}

// Claim says what Begin found.
type Claim int

// The outcomes of Begin.
const (
	// Fresh: no earlier request; a pending entry now belongs to the caller.
	Fresh Claim = iota
	// Replay: an earlier request with the same body completed; answer with
	// its response.
	Replay
	// Mismatch: the key was used for a different request.
	Mismatch
	// InFlight: the earlier request is still running in this process.
	InFlight
	// Orphaned: an earlier request started transactions but never
	// recorded a response (the gateway stopped, or the commit status was
	// unknown). The caller now owns the entry and must settle it from the
	// ledger before doing anything new.
	Orphaned
)

func entryKey(scope, key string) []byte { return []byte(scope + "\x00" + key) }

// Begin claims an Idempotency-Key for a request.
func (j *Journal) Begin(e Entry) (Entry, Claim, error) {
	k := entryKey(e.Scope, e.Key)
	j.mu.Lock()
	defer j.mu.Unlock()
	var (
		found Entry
		claim Claim
	)
	err := j.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		now := j.now()
		if raw := b.Get(k); raw != nil {
			if err := json.Unmarshal(raw, &found); err != nil {
				return fmt.Errorf("decode idempotency entry: %w", err)
			}
			if now.Sub(found.Created) <= j.ttl {
				switch {
				case found.Fingerprint != e.Fingerprint:
					claim = Mismatch
				case found.Done:
					claim = Replay
				case j.inflight[string(k)]:
					claim = InFlight
				default:
					claim = Orphaned
					j.inflight[string(k)] = true
				}
				return nil
			}
		}
		e.Created, e.Updated, e.Done, e.TxIDs = now, now, false, nil
		found, claim = e, Fresh
		j.inflight[string(k)] = true
		return put(b, k, e)
	})
	if err != nil {
		return Entry{}, 0, fmt.Errorf("idempotency key: %w", err)
	}
	return found, claim, nil
}

// AddTx records a transaction ID started for the key, before it is endorsed.
func (j *Journal) AddTx(scope, key, txID string) error {
	return j.update(scope, key, func(e *Entry) { e.TxIDs = append(e.TxIDs, txID) })
}

// Complete records the response and ends the caller's ownership.
func (j *Journal) Complete(scope, key string, status int, header map[string]string, body []byte) error {
	defer j.release(scope, key)
	return j.update(scope, key, func(e *Entry) {
		e.Done, e.Status, e.Header, e.Body = true, status, header, body
	})
}

// Release ends the caller's ownership without a response. With forget the
// entry is deleted: use it when nothing reached the orderer (the contract
// refused, the input was invalid), so that a retry runs afresh. Without it
// the entry stays pending and the next request with the key settles it
// from the ledger.
func (j *Journal) Release(scope, key string, forget bool) error {
	defer j.release(scope, key)
	if !forget {
		return nil
	}
	k := entryKey(scope, key)
	return j.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketKeys).Delete(k) })
}

func (j *Journal) release(scope, key string) {
	j.mu.Lock()
	delete(j.inflight, string(entryKey(scope, key)))
	j.mu.Unlock()
}

func (j *Journal) update(scope, key string, f func(*Entry)) error {
	k := entryKey(scope, key)
	err := j.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		raw := b.Get(k)
		if raw == nil {
			return fmt.Errorf("no entry for key %q", key)
		}
		var e Entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		f(&e)
		e.Updated = j.now()
		return put(b, k, e)
	})
	if err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

func put(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// TxStatus is the state of an asynchronously submitted transaction.
type TxStatus string

// Transaction states.
const (
	TxPending   TxStatus = "PENDING"
	TxCommitted TxStatus = "COMMITTED"
	TxFailed    TxStatus = "FAILED"
)

// Tx is an asynchronous transaction, named by its first transaction ID; when
// MVCC conflicts were retried, CommittedTxID is the attempt that committed.
type Tx struct {
	ID       string `json:"id"`
	Identity string `json:"identity"`
	// Caller is the name of the API key that submitted it, MSPID its
	// organisation: who may see it (empty in entries written before they
	// were recorded, which only the same identity then sees).
	Caller        string          `json:"caller,omitempty"`
	MSPID         string          `json:"mspId,omitempty"`
	Op            string          `json:"op"`
	Target        string          `json:"target,omitempty"`
	Status        TxStatus        `json:"status"`
	BlockNumber   uint64          `json:"blockNumber,omitempty"`
	CommittedTxID string          `json:"committedTxId,omitempty"`
	Attempts      int             `json:"attempts,omitempty"`
	Problem       json.RawMessage `json:"problem,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
	Submitted     time.Time       `json:"submitted"`
	Updated       time.Time       `json:"updated"`
}

// PutTx stores a transaction's status.
func (j *Journal) PutTx(t Tx) error {
	t.Updated = j.now()
	if t.Submitted.IsZero() {
		t.Submitted = t.Updated
	}
	err := j.db.Batch(func(tx *bolt.Tx) error { return put(tx.Bucket(bucketTxs), []byte(t.ID), t) })
	if err != nil {
		return fmt.Errorf("record transaction %s: %w", t.ID, err)
	}
	return nil
}

// Tx returns a transaction's status, if this gateway submitted it
// asynchronously.
func (j *Journal) Tx(id string) (Tx, bool, error) {
	var (
		t     Tx
		found bool
	)
	err := j.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketTxs).Get([]byte(id))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &t)
	})
	if err != nil {
		return Tx{}, false, fmt.Errorf("read transaction %s: %w", id, err)
	}
	return t, found, nil
}

// Purge deletes idempotency entries and transaction statuses older than the
// TTL, except idempotency entries still owned by a live request. It returns
// how many it deleted.
func (j *Journal) Purge() (int, error) {
	cutoff := j.now().Add(-j.ttl)
	n := 0
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketKeys, bucketTxs} {
			// Collect first, delete after: deleting under a cursor and then
			// calling Next has skipped entries in bolt/bbolt (etcd-io/bbolt#146).
			b := tx.Bucket(name)
			var old [][]byte
			err := b.ForEach(func(k, v []byte) error {
				var stamp struct {
					Created   time.Time `json:"created"`
					Submitted time.Time `json:"submitted"`
				}
				if err := json.Unmarshal(v, &stamp); err != nil {
					return nil
				}
				t := stamp.Created
				if t.IsZero() {
					t = stamp.Submitted
				}
				if t.Before(cutoff) && !j.inflight[string(k)] {
					old = append(old, slices.Clone(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range old {
				if err := b.Delete(k); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}
