// Package notifier holds the notifier's domain: the ledger events it reacts
// to, the notifications it owes buyers and operators, and the interfaces its
// adapters (outbox, WhatsApp provider, contact lookup, event intake)
// implement. Subpackages depend on this package, never the other way round.
package notifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// ChainEvent is one chaincode event as it left the ledger, before decoding.
// Block and TxID together are the resume position: several events can share
// a block, so the block number alone cannot say which were already handled.
type ChainEvent struct {
	Block   uint64
	TxID    string
	Name    string
	Payload []byte
}

// Checkpoint is the position of the last event whose notifications were
// fully recorded. The zero value means "nothing recorded yet".
type Checkpoint struct {
	Block uint64 `json:"block"`
	TxID  string `json:"txId"`
}

// IsZero reports whether nothing has been recorded yet.
func (c Checkpoint) IsZero() bool { return c.Block == 0 && c.TxID == "" }

// Event is the chaincode event payload of docs/contract.md, as the shared
// domain package defines it.
type Event = shipment.Event

// Event types the notifier knows by name (docs/contract.md).
const (
	EventCreated           = string(shipment.EventCreated)
	EventShipped           = string(shipment.EventShipped)
	EventCustodyTransfer   = string(shipment.EventCustodyTransfered)
	EventDelivered         = string(shipment.EventDelivered)
	EventRejected          = string(shipment.EventRejected)
	EventCancelled         = string(shipment.EventCancelled)
	EventOverdue           = string(shipment.EventOverdue)
	EventColdChainBreached = string(shipment.EventColdChainBreached)
)

// Contact is a buyer's messaging contact. It is personal data: it never goes
// into logs, metric labels or errors.
type Contact = shipment.Contact

// ContactSource finds the buyer contact of a shipment. Implementations return
// ErrNoContact when the shipment has none, and other errors only for
// trouble worth retrying (the network, the peer).
type ContactSource interface {
	BuyerContact(ctx context.Context, shipmentID string) (Contact, error)
}

// Recipient roles. A notification is keyed by role rather than phone number
// so a replayed event maps onto the same key even if the contact changed.
const (
	RoleBuyer = "buyer"
	RoleOps   = "ops"
)

// Status is where a notification stands. The order of the constants is the
// order of progress; a webhook never moves a notification backwards.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusSending   Status = "sending"   // an attempt is in flight (recorded before the HTTP call)
	StatusUncertain Status = "uncertain" // an attempt may have reached the provider; awaiting a webhook before retrying
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
)

// Rank orders statuses by progress so late or repeated webhooks cannot undo
// a later state.
func (s Status) Rank() int {
	switch s {
	case StatusQueued:
		return 0
	case StatusSending, StatusUncertain:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusFailed, StatusSkipped:
		return 5
	}
	return -1
}

// Terminal reports whether the notification needs no more work from the sender.
func (s Status) Terminal() bool {
	return s != StatusQueued && s != StatusSending && s != StatusUncertain
}

// Notification is one message owed to one recipient for one event.
type Notification struct {
	ID         string    `json:"id"`
	TxID       string    `json:"txId"`
	Block      uint64    `json:"block"`
	EventType  string    `json:"eventType"`
	Recipient  string    `json:"recipient"`
	ShipmentID string    `json:"shipmentId"`
	EventTime  time.Time `json:"eventTime"`
	Phone      string    `json:"phone,omitempty"`
	Message    Message   `json:"message"`
	Status     Status    `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	ErrorCode  int       `json:"errorCode,omitempty"`
	WAMID      string    `json:"wamid,omitempty"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"nextAt"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	SentAt     time.Time `json:"sentAt,omitempty"`
}

// NotificationID is the notification's key: (transaction, event type,
// recipient role). A replayed event yields the same IDs, so it cannot
// create a second notification.
func NotificationID(txID, eventType, recipient string) string {
	return txID + "/" + eventType + "/" + recipient
}

// Message is a rendered template message, independent of the provider.
type Message struct {
	To         string      `json:"to,omitempty"`
	Template   string      `json:"template"`
	Category   string      `json:"category,omitempty"`
	Language   string      `json:"language"`
	Components []Component `json:"components,omitempty"`
	// CallbackData travels with the message and comes back in status
	// webhooks; it carries the notification ID so a send whose result was
	// lost in a crash can still be matched to its notification.
	CallbackData string `json:"callbackData,omitempty"`
}

// Component is a template component (header, body or button) with its
// parameters, in the shape the WhatsApp Cloud API takes.
type Component struct {
	Type       string      `json:"type"`
	SubType    string      `json:"sub_type,omitempty"`
	Index      string      `json:"index,omitempty"`
	Parameters []Parameter `json:"parameters"`
}

// Parameter is one template parameter: text for header/body/url buttons,
// payload for quick-reply buttons.
type Parameter struct {
	Type    string `json:"type"`
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// SendResult is what a provider returns for an accepted message.
type SendResult struct {
	MessageID string
	// WaID is the recipient's WhatsApp ID as the provider reported it
	// (contacts[].wa_id); it can differ from the number sent to, and a STOP
	// comes from it.
	WaID string
}

// Provider delivers a rendered message to one phone number.
type Provider interface {
	Send(ctx context.Context, msg Message) (SendResult, error)
}

// PhoneRef is a stable, non-reversible reference to a phone number, safe for
// logs and store keys where the number itself is not needed.
func PhoneRef(phone string) string {
	sum := sha256.Sum256([]byte(NormalizePhone(phone)))
	return hex.EncodeToString(sum[:8])
}

// NormalizePhone reduces an E.164 number to its digits, the form WhatsApp
// uses for wa_id, so "+49 151 234" and "49151234" compare equal.
func NormalizePhone(phone string) string {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
