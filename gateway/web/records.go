package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// records keeps the shipment records the page has read while the gateway
// follows the contract's events, so a view of a shipment that has not
// changed reads nothing from the ledger. Without it every view read the
// record (the erasure check): 50 viewers of one shipment made 250 ledger
// reads a second, and the page's p99 was 461 ms on 2 cores.
//
// A record changes only in a transaction, and every transaction of the
// contract that touches a shipment emits an event naming it (a buyer
// contact's erasure emits contact.deleted). Changed drops that shipment's
// copy as soon as the event arrives, or, for the gateway's own writes, as
// soon as they commit (before the event): the erased contact's link stops
// working within the event's delivery time, tens of milliseconds. While
// the event stream is down nothing is kept and every view reads the ledger,
// since events may be missed; (re)connecting starts from an empty cache.
// A read that a change crossed is used for its own view but not kept.
//
// For settle after a change, reads of that shipment are not kept either:
// with several peers per organisation, the read may reach a peer that has
// not committed the event's block yet, and keeping what it returned would
// hold the old record (a contact already erased) until the next change.
type records struct {
	mu        sync.Mutex
	following bool
	epoch     uint64 // counts changes; a read is kept only if none crossed it
	byID      map[string]shipment.Shipment
	order     []string             // oldest first, for eviction
	quiet     map[string]time.Time // shipment → until when a read of it is not kept
	quietAll  time.Time            // the same for every shipment (a change of no one shipment)
	max       int
	now       func() time.Time
}

// settle is how long after a change reads of that shipment are not kept:
// time for every peer of the organisation to commit the block.
const settle = 2 * time.Second

func newRecords(max int, now func() time.Time) *records {
	return &records{max: max, byID: map[string]shipment.Shipment{}, quiet: map[string]time.Time{}, now: now}
}

// get returns the kept record of id, or the epoch a read must start at.
func (r *records) get(id string) (shipment.Shipment, bool, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	return s, ok && r.following, r.epoch
}

// put keeps s, read since epoch, unless a change crossed the read or the
// events are not followed.
func (r *records) put(s shipment.Shipment, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.following || r.epoch != epoch {
		return
	}
	if now := r.now(); now.Before(r.quietAll) || now.Before(r.quiet[s.ID]) {
		return
	}
	if _, ok := r.byID[s.ID]; !ok {
		r.order = append(r.order, s.ID)
		if len(r.order) > r.max {
			delete(r.byID, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.byID[s.ID] = s
}

// changed drops the copy of shipment id ("": of every shipment).
func (r *records) changed(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch++
	now := r.now()
	if id == "" {
		r.byID, r.order = map[string]shipment.Shipment{}, nil
		r.quietAll = now.Add(settle)
		return
	}
	delete(r.byID, id)
	if len(r.quiet) >= 4*r.max {
		for k, until := range r.quiet {
			if !now.Before(until) {
				delete(r.quiet, k)
			}
		}
	}
	r.quiet[id] = now.Add(settle)
}

// follow says whether the event stream is up; either way everything kept
// is dropped.
func (r *records) follow(up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch++
	r.following = up
	r.byID, r.order = map[string]shipment.Shipment{}, nil
}

// Changed tells the page that shipment id changed on the ledger ("" for a
// change that is not one shipment's, such as the member registry): its
// kept record is read again at the next view.
func (p *Pages) Changed(id string) {
	p.records.changed(id)
}

// Follow keeps the page's records current from subscribe's stream of
// changed shipment IDs (fabric.Client.Changes) until ctx ends,
// subscribing again after retry when the stream breaks. Until it runs, and
// while the stream is down, the page reads every record on every view.
func (p *Pages) Follow(ctx context.Context, subscribe func(context.Context) (<-chan string, error), retry time.Duration) {
	for ctx.Err() == nil {
		sctx, cancel := context.WithCancel(ctx)
		changes, err := subscribe(sctx)
		if err == nil {
			p.records.follow(true)
			p.log.Info("tracking page follows the contract's events")
			for id := range changes {
				p.records.changed(id)
			}
			p.records.follow(false)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("tracking page lost the contract's events; every view reads the ledger until they are back",
			slog.Any("error", err))
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}
