package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
}

// HandleBatch decodes and decides every event, then records them all with
// the checkpoint of the last one. A failed contact lookup fails the batch:
// nothing is recorded and the runner retries from the checkpoint.
func (p *Processor) HandleBatch(ctx context.Context, events []notifier.ChainEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	plans := make([]outbox.Plan, 0, len(events))
	results := make([][2]string, 0, len(events))
	for _, ce := range events {
		var ev notifier.Event
		if err := json.Unmarshal(ce.Payload, &ev); err != nil {
			// A payload we cannot read will not become readable by
			// retrying; recording past it keeps the intake moving.
			p.Log.Error("undecodable event payload skipped", slog.String("tx", ce.TxID), slog.String("event", ce.Name), slog.Any("error", err))
			results = append(results, [2]string{ce.Name, "malformed"})
			continue
		}
		if ev.Type == "" {
			ev.Type = shipment.EventType(ce.Name)
		}
		if ev.Type == shipment.EventContactDeleted { // erased in ledger order, with the checkpoint
			plans = append(plans, outbox.EraseContact(ev.ShipmentID))
			results = append(results, [2]string{string(ev.Type), "erased"})
			continue
		}
		rules := p.Decider.Relevant(ev)
		if len(rules) == 0 {
			results = append(results, [2]string{string(ev.Type), "ignored"})
			continue
		}
		var buyer *notifier.Contact
		if decide.NeedsBuyer(rules) {
			c, err := p.Contacts.BuyerContact(ctx, ev.ShipmentID)
			switch {
			case errors.Is(err, notifier.ErrNoContact):
			case err != nil:
				return fmt.Errorf("buyer contact of %s (tx %s): %w", ev.ShipmentID, ce.TxID, err)
			default:
				buyer = &c
			}
		}
		in := decide.Input{Chain: ce, Event: ev, Rules: rules, Buyer: buyer, Now: now()}
		plans = append(plans, func(v outbox.View) []notifier.Notification { return p.Decider.Plan(in, v) })
		results = append(results, [2]string{string(ev.Type), "recorded"})
	}
	last := events[len(events)-1]
	cp := notifier.Checkpoint{Block: last.Block, TxID: last.TxID}
	written, err := p.Store.Record(ctx, cp, plans...)
	if err != nil {
		return err
	}
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
	return nil
}
