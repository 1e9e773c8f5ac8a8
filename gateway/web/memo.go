package web

import (
	"context"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// memo keeps the detail views of recently viewed shipments, each keyed by
// the state of the record it was read at. Every request still reads the
// record from the ledger (that read is the erasure check); only when the
// record's version, its last transaction and its readings (count, late
// count, latest reading) are what they were does the page reuse the
// history, readings and proofs read for that state: they cannot have
// changed, since every change of the record adds a version and every
// reading moves the count. Concurrent first views of one state share one
// read. The memo is bounded and lives in the process only.
type memo struct {
	mu      sync.Mutex
	max     int
	entries map[string]*memoEntry
	order   []string // shipment IDs, oldest first, for eviction
}

type memoEntry struct {
	state stateKey
	done  chan struct{}
	d     *Detail
	err   error
}

// stateKey is what identifies a record's state for the page.
type stateKey struct {
	version    int64
	updatedTx  string
	count      int64
	late       int64
	lastAt     time.Time
	hasContact bool
}

func keyOf(s shipment.Shipment) stateKey {
	k := stateKey{version: s.Version, updatedTx: s.UpdatedTx, count: s.ColdChain.Count, late: s.ColdChain.LateCount, hasContact: s.HasBuyerContact}
	if r := s.ColdChain.LastReading; r != nil {
		k.lastAt = r.Time
	}
	return k
}

func newMemo(max int) *memo { return &memo{max: max, entries: map[string]*memoEntry{}} }

// get returns the detail for the record s, reading it with load unless a
// detail read at the same state is kept or being read.
func (m *memo) get(ctx context.Context, s shipment.Shipment, load func() (*Detail, error)) (*Detail, error) {
	k := keyOf(s)
	m.mu.Lock()
	e, ok := m.entries[s.ID]
	if !ok || e.state != k {
		e = &memoEntry{state: k, done: make(chan struct{})}
		if !ok {
			m.order = append(m.order, s.ID)
			if len(m.order) > m.max {
				delete(m.entries, m.order[0])
				m.order = m.order[1:]
			}
		}
		m.entries[s.ID] = e
		m.mu.Unlock()
		e.d, e.err = load()
		if e.err != nil {
			m.mu.Lock()
			if m.entries[s.ID] == e {
				delete(m.entries, s.ID) // the next view reads again
			}
			m.mu.Unlock()
		}
		close(e.done)
		return e.d, e.err
	}
	m.mu.Unlock()
	select {
	case <-e.done:
		return e.d, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
