package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/shipment"
)

// Recorder is the part of the outbox the processor writes to.
type Recorder interface {
	Record(ctx context.Context, cp notifier.Checkpoint, plans ...outbox.Plan) ([]notifier.Notification, error)
}

// Observer is told what happened to each event and what was recorded.
type Observer interface {
	Event(eventType, result string)
	Recorded(ns []notifier.Notification, cp notifier.Checkpoint)
}

// Processor turns events into recorded notifications.
type Processor struct {
	Decider  *decide.Decider
	Contacts notifier.ContactSource
	Store    Recorder
	Log      *slog.Logger
	Observer Observer
	// Recorded is called after each batch is on disk (e.g. to wake the sender).
	Recorded func([]notifier.Notification)
	Now      func() time.Time
	// ContactGrace: a NOT_FOUND contact for an event younger than this is
	// looked up again later instead of skipped, because with several
	// exporter peers the private data may not have reached ours yet (2m).
	ContactGrace time.Duration
	// RetryAttempts bounds the lookups of an event set aside for a
	// per-shipment error before it becomes a dead letter (8).
	RetryAttempts int
	// RetryBackoffMin and RetryBackoffMax bound the delay between them
	// (1s, 5m).
	RetryBackoffMin, RetryBackoffMax time.Duration

	// mu serialises recording between the stream and the retries, so a
	// retry records with the checkpoint the stream last wrote.
	mu sync.Mutex
	// contactEpoch counts the contact changes and erasures the stream has
	// seen (contact.updated, contact.deleted); changedAt holds, per
	// shipment, the count at its latest one.
	contactEpoch atomic.Uint64
	changedMu    sync.Mutex
	changedAt    map[string]uint64
	signalOnce   sync.Once
	signal       chan struct{}
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Processor) grace() time.Duration {
	if p.ContactGrace == 0 {
		return 2 * time.Minute
	}
	return max(p.ContactGrace, 0)
}

// decoded is one event ready to decide, or the reason it is not.
type decoded struct {
	chain  notifier.ChainEvent
	event  notifier.Event
	rules  []decide.Rule
	result string // recorded, ignored, malformed, parked, erased
}

// resultErased is the result of a contact.deleted event: it erases the
// buyer's data of the shipment (outbox.EraseContact) in ledger order, in
// the transaction that records the checkpoint past it.
const resultErased = "erased"

func (p *Processor) decode(ce notifier.ChainEvent) decoded {
	d := decoded{chain: ce}
	if err := json.Unmarshal(ce.Payload, &d.event); err != nil {
		// A payload we cannot read will not become readable by
		// retrying; recording past it keeps the intake moving.
		p.Log.Error("undecodable event payload skipped", slog.String("tx", ce.TxID), slog.String("event", ce.Name), slog.Any("error", err))
		d.result = "malformed"
		return d
	}
	if d.event.Type == "" {
		d.event.Type = shipment.EventType(ce.Name)
	}
	if d.event.Type == shipment.EventContactDeleted {
		d.result = resultErased
		return d
	}
	d.rules = p.Decider.Relevant(d.event)
	if len(d.rules) == 0 {
		d.result = "ignored"
	}
	return d
}

// lookup finds the buyer of d when a rule needs one. park is a reason to
// set the event aside ("" to decide now); err is ErrContactsUnavailable
// trouble that must hold the whole intake.
func (p *Processor) lookup(ctx context.Context, d decoded) (buyer *notifier.Contact, park string, lookupErr, err error) {
	if !decide.NeedsBuyer(d.rules) {
		return nil, "", nil, nil
	}
	c, lerr := p.Contacts.BuyerContact(ctx, d.event.ShipmentID)
	switch {
	case lerr == nil:
		return &c, "", nil, nil
	case errors.Is(lerr, notifier.ErrNoContact):
		if !d.event.Time.IsZero() && p.now().Sub(d.event.Time) < p.grace() {
			return nil, ReasonNotFoundYet, lerr, nil
		}
		return nil, "", nil, nil
	case errors.Is(lerr, notifier.ErrContactsUnavailable), ctx.Err() != nil:
		return nil, "", nil, fmt.Errorf("buyer contact of %s (tx %s): %w", d.event.ShipmentID, d.chain.TxID, lerr)
	}
	return nil, ReasonLookupFailed, lerr, nil
}

// Reasons an event is set aside.
const (
	ReasonLookupFailed = "lookup_failed"
	ReasonNotFoundYet  = "contact_not_found_yet"
)

func (p *Processor) plan(d decoded, buyer *notifier.Contact) outbox.Plan {
	in := decide.Input{Chain: d.chain, Event: d.event, Rules: d.rules, Buyer: buyer, Now: p.now()}
	return func(v outbox.View) []notifier.Notification { return p.Decider.Plan(in, v) }
}

// Forgetter is a contact source that keeps copies (contacts.Cache): told,
// in ledger order, which shipments' contacts changed or were erased.
type Forgetter interface {
	Forget(shipmentID string)
}

// lookupConcurrency bounds the contact lookups of one batch under way at
// once: each is an evaluate on the exporter's peer, and one at a time made
// the intake's latency the sum of a block's lookups.
const lookupConcurrency = 8

// looked is the outcome of one event's contact lookup.
type looked struct {
	buyer *notifier.Contact
	park  string
	lerr  error
	err   error
}

// HandleBatch decodes and decides every event, then records them all with
// the checkpoint of the last one. An event whose contact cannot be read for
// a reason of its own is set aside (parked) and retried on its own; only
// an unavailable contact source fails the batch, which the runner retries
// from the checkpoint.
//
// The contact lookups (ledger reads) run before the lock is taken and side
// by side, so neither the retries nor a slow peer make the stream wait for
// one read after another. A contact that changes in this batch is
// forgotten before any lookup, so every lookup reads what the ledger holds
// after the batch's block, as a read at that moment would.
func (p *Processor) HandleBatch(ctx context.Context, events []notifier.ChainEvent) error {
	if len(events) == 0 {
		return nil
	}
	ds := make([]decoded, len(events))
	for i, ce := range events {
		ds[i] = p.decode(ce)
		if t := ds[i].event.Type; t == shipment.EventContactDeleted || t == shipment.EventContactUpdated {
			p.contactChanged(ds[i].event.ShipmentID)
		}
	}
	found := make([]looked, len(ds))
	sem := make(chan struct{}, lookupConcurrency)
	var wg sync.WaitGroup
	_, caching := p.Contacts.(Forgetter)
	for i, d := range ds {
		if caching && d.event.Type == shipment.EventContactUpdated {
			// Read the new contact into the cache now, beside the batch's
			// lookups: the shipment's next event (typically "shipped", right after the
			// create that set the contact) then finds it in the cache
			// instead of reading the peer on its own path. Failures do not
			// matter here; that event's lookup will read again.
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				_, _ = p.Contacts.BuyerContact(ctx, d.event.ShipmentID)
			})
		}
		if d.result != "" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			l := &found[i]
			l.buyer, l.park, l.lerr, l.err = p.lookup(ctx, d)
		})
	}
	wg.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	parker, canPark := p.Store.(Parker)
	plans := make([]outbox.Plan, 0, len(events))
	results := make([][2]string, 0, len(events))
	var parked []outbox.Parked
	for i, d := range ds {
		if d.result == resultErased {
			plans = append(plans, outbox.EraseContact(d.event.ShipmentID))
		}
		if d.result != "" {
			results = append(results, [2]string{string(d.event.Type), d.result})
			continue
		}
		l := found[i]
		if l.err != nil {
			return l.err
		}
		if l.park != "" {
			if !canPark {
				return fmt.Errorf("buyer contact of %s (tx %s): %w", d.event.ShipmentID, d.chain.TxID, l.lerr)
			}
			parked = append(parked, p.parked(d, l.park, l.lerr))
			results = append(results, [2]string{string(d.event.Type), "parked"})
			continue
		}
		plans = append(plans, p.plan(d, l.buyer))
		results = append(results, [2]string{string(d.event.Type), "recorded"})
	}
	// Parked before the checkpoint moves past them; a crash in between
	// replays the batch, and parking again is a no-op.
	for _, pe := range parked {
		if err := parker.Park(pe); err != nil {
			return err
		}
		p.observeParked(pe)
	}
	last := events[len(events)-1]
	cp := notifier.Checkpoint{Block: last.Block, TxID: last.TxID}
	written, err := p.Store.Record(ctx, cp, plans...)
	if err != nil {
		return err
	}
	p.recorded(written, cp, results)
	p.wakeParked(ds)
	return nil
}

// Waker is a Parker that can make a shipment's parked events due at once
// (outbox.Store.WakeParked).
type Waker interface {
	WakeParked(shipmentID string, now time.Time) (int, error)
}

// wakeParked makes the events parked for want of a contact due now when
// the batch set that shipment's contact, and tells the retry loop.
func (p *Processor) wakeParked(ds []decoded) {
	w, ok := p.Store.(Waker)
	if !ok {
		return
	}
	woke := 0
	for _, d := range ds {
		if d.event.Type != shipment.EventContactUpdated {
			continue
		}
		n, err := w.WakeParked(d.event.ShipmentID, p.now())
		if err != nil {
			// Only a delay: the event is retried at its backoff.
			p.Log.Warn("parked events not woken", slog.String("shipment", d.event.ShipmentID), slog.Any("error", err))
		}
		woke += n
	}
	if woke > 0 {
		select {
		case p.retrySignal() <- struct{}{}:
		default:
		}
	}
}

// retrySignal wakes RunRetries before its next tick.
func (p *Processor) retrySignal() chan struct{} {
	p.signalOnce.Do(func() { p.signal = make(chan struct{}, 1) })
	return p.signal
}

// contactChanged notes, before any later lookup, that a shipment's contact
// changed or was erased on the ledger: the contact source forgets its copy,
// and a retry whose lookup ran across the change does not record what it
// read (see retry).
func (p *Processor) contactChanged(shipmentID string) {
	p.changedMu.Lock()
	epoch := p.contactEpoch.Add(1)
	if p.changedAt == nil {
		p.changedAt = map[string]uint64{}
	}
	p.changedAt[shipmentID] = epoch
	if len(p.changedAt) > changesKept {
		// A retry's lookup lasts at most an evaluate timeout; changes
		// older than the last changesKept/2 cannot have overlapped one.
		for id, e := range p.changedAt {
			if e+changesKept/2 < epoch {
				delete(p.changedAt, id)
			}
		}
	}
	p.changedMu.Unlock()
	if f, ok := p.Contacts.(Forgetter); ok {
		f.Forget(shipmentID)
	}
}

// changesKept bounds the per-shipment record of contact changes.
const changesKept = 8192

// changedSince reports whether the stream saw a change or erasure of the
// shipment's contact after epoch.
func (p *Processor) changedSince(shipmentID string, epoch uint64) bool {
	p.changedMu.Lock()
	defer p.changedMu.Unlock()
	return p.changedAt[shipmentID] > epoch
}

func (p *Processor) parked(d decoded, reason string, lerr error) outbox.Parked {
	now := p.now()
	pe := outbox.Parked{Event: d.chain, Type: string(d.event.Type), Shipment: d.event.ShipmentID, EventTime: d.event.Time,
		Reason: reason, FirstAt: now, NextAt: now.Add(p.backoff(1))}
	if lerr != nil {
		pe.Error = lerr.Error()
	}
	return pe
}

func (p *Processor) observeParked(pe outbox.Parked) {
	p.Log.Warn("event set aside; the others go on and it is retried on its own",
		slog.String("tx", pe.Event.TxID), slog.String("shipment", pe.Shipment), slog.String("reason", pe.Reason),
		slog.String("error", pe.Error), slog.Time("next", pe.NextAt))
	if o, ok := p.Observer.(ParkObserver); ok {
		o.Parked(pe.Reason)
	}
}

func (p *Processor) recorded(written []notifier.Notification, cp notifier.Checkpoint, results [][2]string) {
	if p.Observer != nil {
		for _, r := range results {
			p.Observer.Event(r[0], r[1])
		}
		p.Observer.Recorded(written, cp)
	}
	for _, n := range written {
		p.Log.Debug("notification recorded", slog.String("notification", n.ID), slog.String("shipment", n.ShipmentID),
			slog.String("status", string(n.Status)), slog.String("reason", n.Reason))
	}
	if p.Recorded != nil && len(written) > 0 {
		p.Recorded(written)
	}
}
