package proof

import (
	"encoding/hex"
	"fmt"
	"time"
)

// States of a proof and of each of its records.
const (
	StateAnchored = "anchored" // the record's batch root is on the ledger
	StatePending  = "pending"  // not yet in an anchored batch
	// StateNone is a notification settled without any message (skipped:
	// no consent, opted out, ...): it has no status to prove.
	StateNone = "none"
)

// Proof is a notification's proof as the notifier's admin API serves it
// (GET /v1/notifications/{id}/proof) and the verifier reads it. State is
// pending while any record is.
type Proof struct {
	NotificationID string        `json:"notificationId"`
	State          string        `json:"state"`
	Records        []RecordProof `json:"records"`
}

// RecordProof is one status record and the way from it to the ledger.
type RecordProof struct {
	// Record is the record's canonical bytes (JSON text): exactly what the
	// leaf hash covers.
	Record    string    `json:"record"`
	State     string    `json:"state"`
	LeafIndex uint64    `json:"leafIndex"`
	AuditPath []string  `json:"auditPath"`
	BatchID   string    `json:"batchId,omitempty"`
	Root      string    `json:"root,omitempty"`
	LeafCount uint64    `json:"leafCount,omitempty"`
	FirstAt   time.Time `json:"firstAt,omitzero"`
	LastAt    time.Time `json:"lastAt,omitzero"`
	// TxID and Block are the transaction that recorded the root and its
	// block; AnchoredAt its timestamp, AnchoredBy its organisation.
	TxID       string    `json:"txId,omitempty"`
	Block      uint64    `json:"block,omitempty"`
	AnchoredAt time.Time `json:"anchoredAt,omitzero"`
	AnchoredBy string    `json:"anchoredBy,omitempty"`
}

// CheckInclusion checks what needs no ledger: the record is canonical, and
// its leaf hash leads by the audit path to the root the proof names. It
// returns the record.
func (rp RecordProof) CheckInclusion() (StatusRecord, error) {
	rec, err := ParseRecord([]byte(rp.Record))
	if err != nil {
		return rec, err
	}
	if rp.State != StateAnchored {
		return rec, fmt.Errorf("%s (seq %d) is not anchored yet (state %q)", rec.Status, rec.Seq, rp.State)
	}
	root, err := hex.DecodeString(rp.Root)
	if err != nil || len(root) != 32 {
		return rec, fmt.Errorf("root %q is not 64 hex digits", rp.Root)
	}
	path, err := Unhex(rp.AuditPath)
	if err != nil {
		return rec, fmt.Errorf("audit path: %w", err)
	}
	if err := VerifyInclusion(LeafHash([]byte(rp.Record)), rp.LeafIndex, rp.LeafCount, path, root); err != nil {
		return rec, fmt.Errorf("%s at %s (seq %d): %w", rec.Status, rec.At.Format(time.RFC3339), rec.Seq, err)
	}
	if rec.At.Before(rp.FirstAt) || rec.At.After(rp.LastAt) {
		return rec, fmt.Errorf("%s at %s (seq %d) is outside its batch's %s..%s", rec.Status, rec.At.Format(time.RFC3339), rec.Seq, rp.FirstAt.Format(time.RFC3339), rp.LastAt.Format(time.RFC3339))
	}
	return rec, nil
}
