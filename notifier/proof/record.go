package proof

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// RecordVersion is the format of StatusRecord's canonical bytes.
const RecordVersion = 1

// Lifecycle statuses a record can carry. "accepted" is the Cloud API's
// answer to the send request (Meta gives no time for it, so At is the
// notifier's); the others come from Meta's status webhooks with Meta's
// timestamp, or, for a request Meta refused, "failed" from the answer.
const (
	StatusAccepted  = "accepted"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Sources of a record's time.
const (
	SourceSendResponse = "send_response" // the notifier's clock when the Cloud API answered
	SourceWebhook      = "webhook"       // WhatsApp's timestamp in the status webhook
)

var statuses = []string{StatusAccepted, StatusSent, StatusDelivered, StatusRead, StatusFailed}

// StatusRecord is one status change of one WhatsApp message, as the
// notifier applied it. It holds no personal data: the notification and the
// message are named by keyed references (HMAC-SHA256 under the store's
// key; nobody without the key can link them to a number or a WhatsApp
// message ID, and once the store erased the number and the message ID
// nobody can link them at all), and the rest is what the public ledger
// already says about the shipment (its ID, the event) plus a template
// name, a status, a time and an error code. So records survive the
// erasure of a buyer contact and may be shown to any member.
//
// Its canonical bytes (Canonical) are compact JSON with the fields in the
// order below and times in UTC RFC 3339 with nanoseconds when there are
// any: what the leaf hash covers, and what a proof carries.
type StatusRecord struct {
	Version int `json:"v"`
	// Seq is the record's position in the notifier's log of records, so
	// two otherwise equal records (a status reported for two attempts in
	// one second) are still two leaves.
	Seq uint64 `json:"seq"`
	// Ref is the notification's keyed reference (RefKey.NotificationRef of
	// its ID), MessageRef the WhatsApp message's (RefKey.MessageRef of the
	// wamid; empty when WhatsApp never gave the attempt one).
	Ref        string    `json:"ref"`
	MessageRef string    `json:"messageRef,omitempty"`
	ShipmentID string    `json:"shipmentId"`
	Event      string    `json:"event"`
	Recipient  string    `json:"recipient"` // buyer or ops: a role, not a person
	Template   string    `json:"template"`
	Status     string    `json:"status"`
	At         time.Time `json:"at"`
	Source     string    `json:"source"`
	ErrorCode  int       `json:"errorCode,omitempty"`
}

// Canonical returns the record's canonical bytes, after checking it.
func (r StatusRecord) Canonical() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r.At = r.At.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode status record %d: %w", r.Seq, err)
	}
	return b, nil
}

// Validate checks the fields a record must have.
func (r StatusRecord) Validate() error {
	switch {
	case r.Version != RecordVersion:
		return fmt.Errorf("status record: version %d, want %d", r.Version, RecordVersion)
	case r.Ref == "":
		return fmt.Errorf("status record %d: ref is required", r.Seq)
	case !slices.Contains(statuses, r.Status):
		return fmt.Errorf("status record %d: status %q is not one of %v", r.Seq, r.Status, statuses)
	case r.At.IsZero():
		return fmt.Errorf("status record %d: at is required", r.Seq)
	case r.Source != SourceSendResponse && r.Source != SourceWebhook:
		return fmt.Errorf("status record %d: source %q is not %s or %s", r.Seq, r.Source, SourceSendResponse, SourceWebhook)
	}
	return nil
}

// ParseRecord reads canonical record bytes. Anything but exactly the
// canonical form of a valid record is refused (an unknown field, another
// field order, spacing or time zone), so one record has one leaf hash and
// what a verifier shows is what was hashed.
func ParseRecord(b []byte) (StatusRecord, error) {
	var r StatusRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("status record is not valid JSON of a record: %w", err)
	}
	if dec.More() {
		return r, fmt.Errorf("status record has trailing data")
	}
	c, err := r.Canonical()
	if err != nil {
		return r, err
	}
	if !bytes.Equal(c, b) {
		return r, fmt.Errorf("status record is not in canonical form (want %s)", c)
	}
	return r, nil
}
