package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"html/template"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// memo keeps the detail views of recently viewed shipments, each keyed by
// the state of the record it was read at (the record itself comes from the
// ledger, or from records while no event says it changed); only when the
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

	mu    sync.Mutex
	html  map[string]template.HTML // the detail view rendered, per language
	pages map[string]servedPage    // the whole page, per language, for one minute
}

// servedPage is a whole page as it goes out, plain and gzipped, for the
// minute its footer names.
type servedPage struct {
	minute string
	plain  []byte
	gz     []byte
}

// page returns the whole page in language code for the minute of the
// footer, building and compressing it once per state, language and minute:
// while the record does not change, the footer's "read at" minute is the
// only part of the page that moves, so a view costs neither a template run
// nor a compression (at 50 viewers those were most of the page's CPU).
func (e *memoEntry) page(code, minute string, build func() ([]byte, error)) (servedPage, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.pages[code]; ok && p.minute == minute {
		return p, nil
	}
	plain, err := build()
	if err != nil {
		return servedPage{}, err
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return servedPage{}, err
	}
	if _, err := zw.Write(plain); err != nil {
		return servedPage{}, err
	}
	if err := zw.Close(); err != nil {
		return servedPage{}, err
	}
	p := servedPage{minute: minute, plain: plain, gz: b.Bytes()}
	if e.pages == nil {
		e.pages = map[string]servedPage{}
	}
	e.pages[code] = p
	return p, nil
}

// rendered returns the detail view in language code, rendering it once.
func (e *memoEntry) rendered(code string, render func() (template.HTML, error)) (template.HTML, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h, ok := e.html[code]; ok {
		return h, nil
	}
	h, err := render()
	if err != nil {
		return "", err
	}
	if e.html == nil {
		e.html = map[string]template.HTML{}
	}
	e.html[code] = h
	return h, nil
}

// stateKey is what identifies a record's state for the page.
type stateKey struct {
	version    int64
	updatedTx  string
	count      int64
	late       int64
	lastAt     time.Time
	hasContact bool
	// plots changes when EUDR plots are attached or erased: they live under
	// their own key, so the record's version does not move.
	plots string
}

func keyOf(s shipment.Shipment) stateKey {
	k := stateKey{version: s.Version, updatedTx: s.UpdatedTx, count: s.ColdChain.Count, late: s.ColdChain.LateCount, hasContact: s.HasBuyerContact}
	if r := s.ColdChain.LastReading; r != nil {
		k.lastAt = r.Time
	}
	if p := s.Plots; p != nil {
		k.plots = fmt.Sprint(p.AttachedTx, p.Erased)
	}
	return k
}

func newMemo(max int) *memo { return &memo{max: max, entries: map[string]*memoEntry{}} }

// get returns the entry for the record s, its detail read with load unless
// a detail read at the same state is kept or being read.
func (m *memo) get(ctx context.Context, s shipment.Shipment, load func() (*Detail, error)) (*memoEntry, error) {
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
		return e, e.err
	}
	m.mu.Unlock()
	select {
	case <-e.done:
		return e, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
