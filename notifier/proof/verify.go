package proof

import (
	"context"
	"fmt"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// Ledger is what a verifier reads from the channel: the anchor of a batch
// (the NotificationAnchor transaction) and where a transaction is (the
// peer's block store, qscc).
type Ledger interface {
	NotificationAnchor(ctx context.Context, batchID string) (shipment.NotificationAnchor, error)
	Transaction(ctx context.Context, txID string) (Tx, error)
}

// Tx is what the block holding a transaction says about it.
type Tx struct {
	Found   bool
	Valid   bool
	Code    string
	Block   uint64
	Creator string // MSP ID of the submitter
	Time    time.Time
}

// Verified is one record that checked, with what the ledger said.
type Verified struct {
	Record StatusRecord
	Anchor shipment.NotificationAnchor
	Leaf   uint64 // index in the batch
	Block  uint64
}

// Verify checks every record of a proof against the ledger: the record is
// canonical and its audit path leads to the proof's root; the ledger's
// anchor of the batch has that root, leaf count and transaction, and
// covers the record's time; that transaction is valid in the block the
// proof names and was submitted by the organisation the anchor records. It
// stops at the first record that fails and says why.
func Verify(ctx context.Context, p Proof, l Ledger) ([]Verified, error) {
	if len(p.Records) == 0 {
		return nil, fmt.Errorf("the proof of %q holds no status records (state %q)", p.NotificationID, p.State)
	}
	var out []Verified
	for i, rp := range p.Records {
		rec, err := rp.CheckInclusion()
		if err != nil {
			return out, fmt.Errorf("record %d: %w", i+1, err)
		}
		a, err := l.NotificationAnchor(ctx, rp.BatchID)
		if err != nil {
			return out, fmt.Errorf("record %d: read the anchor of batch %s from the ledger: %w", i+1, rp.BatchID, err)
		}
		switch {
		case a.Root != rp.Root:
			return out, fmt.Errorf("record %d: the ledger anchors batch %s with root %s, the proof says %s", i+1, rp.BatchID, a.Root, rp.Root)
		case uint64(a.LeafCount) != rp.LeafCount:
			return out, fmt.Errorf("record %d: the ledger anchors batch %s with %d records, the proof says %d", i+1, rp.BatchID, a.LeafCount, rp.LeafCount)
		case a.TxID != rp.TxID:
			return out, fmt.Errorf("record %d: the ledger anchored batch %s in transaction %s, the proof says %s", i+1, rp.BatchID, a.TxID, rp.TxID)
		case rec.At.Before(a.FirstAt) || rec.At.After(a.LastAt):
			return out, fmt.Errorf("record %d: its time %s is outside the anchored batch's %s..%s", i+1,
				rec.At.Format(time.RFC3339), a.FirstAt.Format(time.RFC3339), a.LastAt.Format(time.RFC3339))
		}
		tx, err := l.Transaction(ctx, a.TxID)
		if err != nil {
			return out, fmt.Errorf("record %d: look up transaction %s: %w", i+1, a.TxID, err)
		}
		switch {
		case !tx.Found:
			return out, fmt.Errorf("record %d: transaction %s is not on the ledger", i+1, a.TxID)
		case !tx.Valid:
			return out, fmt.Errorf("record %d: transaction %s is on the ledger but invalid (%s)", i+1, a.TxID, tx.Code)
		case tx.Block != rp.Block:
			return out, fmt.Errorf("record %d: transaction %s is in block %d, the proof says %d", i+1, a.TxID, tx.Block, rp.Block)
		case tx.Creator != a.MSPID:
			return out, fmt.Errorf("record %d: transaction %s was submitted by %s, the anchor names %s", i+1, a.TxID, tx.Creator, a.MSPID)
		}
		out = append(out, Verified{Record: rec, Anchor: a, Leaf: rp.LeafIndex, Block: tx.Block})
	}
	return out, nil
}
