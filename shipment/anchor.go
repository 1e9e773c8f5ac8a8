package shipment

import (
	"bytes"
	"encoding/json"
	"regexp"
	"time"
)

// EventNotificationsAnchored is the event of AnchorNotifications. Its payload
// is the NotificationAnchor: a batch ID, a hash, a count and times, nothing
// about any person.
const EventNotificationsAnchored EventType = "notifications.anchored"

// NotificationAnchor is the Merkle root of one batch of a member's
// notification status records ("accepted", "sent", "delivered", "read",
// "failed", each with WhatsApp's time), recorded on the ledger so that any
// member can later check a status record a notifier shows them against it.
// The records themselves stay in the notifier's store: the ledger holds only
// the root, which reveals nothing about the records (their leaves are
// SHA-256 of keyed references, times and statuses).
type NotificationAnchor struct {
	BatchID string `json:"batchId"`
	// MSPID is the organisation whose notifier recorded the batch: the
	// caller's MSP, never an argument.
	MSPID     string    `json:"mspId"`
	Root      string    `json:"root"` // 64 lower-case hex digits: RFC 6962 tree head of the batch
	LeafCount int       `json:"leafCount"`
	FirstAt   time.Time `json:"firstAt"` // earliest status time among the batch's records
	LastAt    time.Time `json:"lastAt"`  // latest
	// AnchoredAt is the anchoring transaction's timestamp (checked against
	// the endorsing peers' clocks), TxID that transaction.
	AnchoredAt time.Time `json:"anchoredAt"`
	TxID       string    `json:"txId"`
}

// NewNotificationAnchor is what a notifier submits: everything but who and
// when, which the contract takes from the transaction.
type NewNotificationAnchor struct {
	BatchID   string    `json:"batchId"`
	Root      string    `json:"root"`
	LeafCount int       `json:"leafCount"`
	FirstAt   time.Time `json:"firstAt"`
	LastAt    time.Time `json:"lastAt"`
}

// MaxAnchorLeaves bounds a batch, so a proof's audit path stays short (at
// most 20 hashes) and a bad count is caught.
const MaxAnchorLeaves = 1 << 20

var (
	batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{7,127}$`)
	rootPattern    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// DecodeNewNotificationAnchor reads and validates an anchor request; an
// unknown field is refused, so a client cannot believe it recorded
// something the contract ignored (a phone number, say).
func DecodeNewNotificationAnchor(b []byte) (NewNotificationAnchor, error) {
	var n NewNotificationAnchor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return n, Errorf(Invalid, "anchor: not a valid anchor request: %v", err)
	}
	if dec.More() {
		return n, Errorf(Invalid, "anchor: trailing data after the request")
	}
	return n, n.Validate()
}

// ValidateBatchID checks a batch ID: 8 to 128 characters of letters, digits,
// '.', '_' or '-', starting with a letter or digit.
func ValidateBatchID(id string) error {
	if !batchIDPattern.MatchString(id) {
		return Errorf(Invalid, "batchId: must be 8 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// Validate reports every problem of the request at once.
func (n NewNotificationAnchor) Validate() error {
	var p problems
	if !batchIDPattern.MatchString(n.BatchID) {
		p.addf("batchId", "must be 8 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	if !rootPattern.MatchString(n.Root) {
		p.addf("root", "must be a SHA-256 hash: 64 lower-case hex digits")
	}
	if n.LeafCount < 1 || n.LeafCount > MaxAnchorLeaves {
		p.addf("leafCount", "must be 1 to %d", MaxAnchorLeaves)
	}
	if n.FirstAt.IsZero() {
		p.addf("firstAt", "is required")
	}
	if n.LastAt.IsZero() {
		p.addf("lastAt", "is required")
	}
	if !n.FirstAt.IsZero() && n.LastAt.Before(n.FirstAt) {
		p.addf("lastAt", "is before firstAt")
	}
	return p.err()
}

// Anchor makes the ledger record of n for the calling organisation at the
// transaction's time.
func (n NewNotificationAnchor) Anchor(mspID string, at time.Time, txID string) NotificationAnchor {
	return NotificationAnchor{
		BatchID: n.BatchID, MSPID: mspID, Root: n.Root, LeafCount: n.LeafCount,
		FirstAt: n.FirstAt.UTC(), LastAt: n.LastAt.UTC(), AnchoredAt: at.UTC(), TxID: txID,
	}
}

// Same reports whether a stored anchor already records exactly n for
// mspID: a retry of a batch whose first submission committed.
func (a NotificationAnchor) Same(mspID string, n NewNotificationAnchor) bool {
	return a.MSPID == mspID && a.BatchID == n.BatchID && a.Root == n.Root && a.LeafCount == n.LeafCount &&
		a.FirstAt.Equal(n.FirstAt) && a.LastAt.Equal(n.LastAt)
}
