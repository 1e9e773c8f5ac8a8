package anchor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/notifier/proof"
	"github.com/shiptrace/shiptrace/shipment"
)

// Fabric is the ledger through the shared Fabric adapter, as Identity (a
// member of Client): it anchors (Ledger) and reads anchors and
// transactions back (proof.Ledger, for the verifier).
type Fabric struct {
	Client   *fabric.Client
	Identity string
}

// Anchor submits AnchorNotifications and waits for its commit. When the
// batch was already anchored (a retry after a crash), the contract returns
// the first record, and its block is looked up on the ledger (qscc).
func (f Fabric) Anchor(ctx context.Context, req shipment.NewNotificationAnchor) (shipment.NotificationAnchor, uint64, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return shipment.NotificationAnchor{}, 0, err
	}
	c, err := f.Client.Submit(ctx, fabric.Request{Identity: f.Identity, Tx: string(shipment.OpAnchorNotifications), Args: []string{string(body)}})
	if err != nil {
		return shipment.NotificationAnchor{}, 0, err
	}
	var rec shipment.NotificationAnchor
	if err := json.Unmarshal(c.Result, &rec); err != nil {
		return rec, 0, fmt.Errorf("decode the anchor of %s: %w", req.BatchID, err)
	}
	if rec.TxID == c.TxID {
		return rec, c.BlockNumber, nil
	}
	tx, err := f.Client.Lookup(ctx, f.Identity, rec.TxID)
	if err != nil {
		return rec, 0, err
	}
	if !tx.Found || !tx.Valid {
		return rec, 0, fmt.Errorf("batch %s is anchored by transaction %s, which the ledger does not hold as valid (%s)", req.BatchID, rec.TxID, tx.Code)
	}
	return rec, tx.BlockNumber, nil
}

// NotificationAnchor reads a batch's anchor (proof.Ledger).
func (f Fabric) NotificationAnchor(ctx context.Context, batchID string) (shipment.NotificationAnchor, error) {
	var a shipment.NotificationAnchor
	b, err := f.Client.Evaluate(ctx, fabric.Request{Identity: f.Identity, Tx: string(shipment.OpReadAnchor), Args: []string{batchID}})
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("decode the anchor of %s: %w", batchID, err)
	}
	return a, nil
}

// Transaction reads a transaction's block from the peer's block store
// (qscc GetBlockByTxID), not from anything the notifier says (proof.Ledger).
func (f Fabric) Transaction(ctx context.Context, txID string) (proof.Tx, error) {
	p, err := f.Client.Provenance(ctx, f.Identity, txID)
	if err != nil {
		return proof.Tx{}, err
	}
	return proof.Tx{Found: p.Found, Valid: p.Valid, Code: p.Code, Block: p.BlockNumber, Creator: p.Creator, Time: p.Time}, nil
}
