// Package anchortest is an in-memory ledger for tests of the proof of
// notification: it plays the contract's AnchorNotifications (idempotent per
// batch ID, CONFLICT for the same ID with other content), its
// NotificationAnchor read and qscc's transaction lookup.
package anchortest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/notifier/proof"
	"github.com/shiptrace/shiptrace/shipment"
)

// Ledger is the in-memory ledger; it counts calls and writes, and refuses
// every call while Down.
type Ledger struct {
	mu      sync.Mutex
	anchors map[string]shipment.NotificationAnchor
	blocks  map[string]uint64
	height  uint64
	calls   int
	writes  int
	down    bool
}

// New returns an empty ledger at height 10.
func New() *Ledger {
	return &Ledger{anchors: map[string]shipment.NotificationAnchor{}, blocks: map[string]uint64{}, height: 10}
}

// SetDown makes the ledger unreachable (or reachable again).
func (l *Ledger) SetDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
}

// Counts returns the Anchor calls and the anchors written so far.
func (l *Ledger) Counts() (calls, writes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, l.writes
}

// Anchor records a batch's root, once per batch ID.
func (l *Ledger) Anchor(_ context.Context, req shipment.NewNotificationAnchor) (shipment.NotificationAnchor, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.down {
		return shipment.NotificationAnchor{}, 0, errors.New("peer unreachable")
	}
	if err := req.Validate(); err != nil {
		return shipment.NotificationAnchor{}, 0, err
	}
	if a, ok := l.anchors[req.BatchID]; ok {
		if !a.Same("ExporterMSP", req) {
			return a, 0, shipment.Errorf(shipment.Conflict, "batch %s differs", req.BatchID)
		}
		return a, l.blocks[a.TxID], nil
	}
	l.height++
	tx := fmt.Sprintf("tx%04d", l.height)
	a := req.Anchor("ExporterMSP", time.Now(), tx)
	l.anchors[req.BatchID], l.blocks[tx] = a, l.height
	l.writes++
	return a, l.height, nil
}

// NotificationAnchor reads a batch's anchor.
func (l *Ledger) NotificationAnchor(_ context.Context, id string) (shipment.NotificationAnchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.anchors[id]
	if !ok {
		return a, shipment.Errorf(shipment.NotFound, "no batch %s", id)
	}
	return a, nil
}

// Transaction is qscc's view of an anchoring transaction.
func (l *Ledger) Transaction(_ context.Context, tx string) (proof.Tx, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.blocks[tx]
	return proof.Tx{Found: ok, Valid: ok, Block: b, Creator: "ExporterMSP"}, nil
}
