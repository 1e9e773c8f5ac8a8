// Package anchor puts the proof of notification on the ledger: every
// interval it cuts the status records not yet in a batch into a batch
// (outbox.CutBatch fixes its ID and Merkle root), has the exporter's
// organisation record the root with the AnchorNotifications transaction,
// and only after the commit marks the batch anchored in the store. A batch
// cut but not marked, because the notifier stopped or the ledger was
// unreachable, is submitted again with the same ID and root on the next
// round, before any new batch: the contract treats that retry as a no-op
// and returns the first record, so a crash between commit and mark neither
// loses an anchor nor writes a second one.
package anchor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/shipment"
)

// Ledger records a batch's root. Anchor returns the ledger's record of the
// batch (for a retry, the one the first transaction wrote) and the block of
// the transaction that wrote it.
type Ledger interface {
	Anchor(ctx context.Context, req shipment.NewNotificationAnchor) (shipment.NotificationAnchor, uint64, error)
}

// Store is the part of the outbox the anchorer uses.
type Store interface {
	CutBatch(max int) (outbox.Batch, bool, error)
	PendingBatches() ([]outbox.Batch, error)
	MarkAnchored(id string, a outbox.Anchoring) error
}

// Anchorer runs the rounds.
type Anchorer struct {
	Store     Store
	Ledger    Ledger
	Interval  time.Duration
	MaxLeaves int
	Log       *slog.Logger
	// Submitted, if set, is called after the ledger accepted a batch and
	// before the store marks it: the crash tests stop the notifier there.
	Submitted func(outbox.Batch) error
	// Anchored, if set, is called after a batch is marked (metrics).
	Anchored func(outbox.Batch, shipment.NotificationAnchor)
}

// Run anchors every Interval until ctx ends. A failed round is logged and
// retried at the next one; the records wait in the store.
func (a *Anchorer) Run(ctx context.Context) error {
	t := time.NewTicker(a.Interval)
	defer t.Stop()
	for {
		if err := a.Round(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("notification anchoring failed; retrying next round", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round submits the pending batches, oldest first, then cuts and submits
// new batches until the records are all batched (a full batch is followed
// by another in the same round, so a backlog drains). It stops at the first
// failure, so batches are anchored in order.
func (a *Anchorer) Round(ctx context.Context) error {
	pending, err := a.Store.PendingBatches()
	if err != nil {
		return err
	}
	for _, b := range pending {
		if err := a.anchor(ctx, b); err != nil {
			return err
		}
	}
	for ctx.Err() == nil {
		b, ok, err := a.Store.CutBatch(a.MaxLeaves)
		if err != nil || !ok {
			return err
		}
		if err := a.anchor(ctx, b); err != nil {
			return err
		}
		if b.LeafCount < a.MaxLeaves {
			return nil
		}
	}
	return ctx.Err()
}

func (a *Anchorer) anchor(ctx context.Context, b outbox.Batch) error {
	req := shipment.NewNotificationAnchor{BatchID: b.ID, Root: b.Root, LeafCount: b.LeafCount, FirstAt: b.FirstAt, LastAt: b.LastAt}
	rec, block, err := a.Ledger.Anchor(ctx, req)
	if err != nil {
		return fmt.Errorf("anchor batch %s: %w", b.ID, err)
	}
	if rec.BatchID != b.ID || rec.Root != b.Root || rec.LeafCount != b.LeafCount || rec.TxID == "" {
		return fmt.Errorf("anchor batch %s: the ledger answered with %+v", b.ID, rec)
	}
	if a.Submitted != nil {
		if err := a.Submitted(b); err != nil {
			return err
		}
	}
	if err := a.Store.MarkAnchored(b.ID, outbox.Anchoring{TxID: rec.TxID, Block: block, At: rec.AnchoredAt, By: rec.MSPID}); err != nil {
		return err
	}
	a.Log.Info("notification batch anchored", slog.String("batch", b.ID), slog.Int("records", b.LeafCount),
		slog.String("root", b.Root), slog.String("tx", rec.TxID), slog.Uint64("block", block))
	if a.Anchored != nil {
		a.Anchored(b, rec)
	}
	return nil
}
