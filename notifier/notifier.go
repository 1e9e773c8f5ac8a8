// Package notifier holds the notifier's domain: the ledger events it reacts
// to, the notifications it owes buyers and operators, and the interfaces its
// adapters (outbox, WhatsApp provider, contact lookup, event intake)
// implement. Subpackages depend on this package, never the other way round.
package notifier

import (
	"context"
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
	EventContactDeleted    = string(shipment.EventContactDeleted)
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

// Notification is one message owed to one recipient for one event. Phone,
// the rendered Message and WAMID (Meta's message ID embeds the number) are
// personal data; PhoneRef, the keyed reference of Phone (RefKey.PhoneRef),
// stays when they are erased (ErasedAt), so caps and opt-outs still match.
type Notification struct {
	ID         string    `json:"id"`
	TxID       string    `json:"txId"`
	Block      uint64    `json:"block"`
	EventType  string    `json:"eventType"`
	Recipient  string    `json:"recipient"`
	ShipmentID string    `json:"shipmentId"`
	EventTime  time.Time `json:"eventTime"`
	Phone      string    `json:"phone,omitempty"`
	PhoneRef   string    `json:"phoneRef,omitempty"`
	// TimeZone is the buyer's own zone from the contact, if it names one:
	// it wins over the number's for quiet hours and the daily cap.
	TimeZone  string    `json:"timeZone,omitempty"`
	Message   Message   `json:"message"`
	Status    Status    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	ErrorCode int       `json:"errorCode,omitempty"`
	WAMID     string    `json:"wamid,omitempty"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"nextAt"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	SentAt    time.Time `json:"sentAt,omitempty"`
	ErasedAt  time.Time `json:"erasedAt,omitzero"`
	// Variant is the A/B variant of the rule the message comes from ("A"
	// for a rule without variants); KPIs are counted per variant.
	Variant string `json:"variant,omitempty"`
	// Urgent messages (policy.urgent_events) bypass the frequency cap and
	// quiet hours and do not count toward the cap.
	Urgent bool `json:"urgent,omitempty"`
	// CapDay is the recipient's local calendar day (2006-01-02) the
	// message counts against; empty for messages the cap does not cover.
	CapDay string `json:"capDay,omitempty"`
	// NotBefore is when a deferred message (quiet hours, daily cap) may
	// go at the earliest; zero for one that was never deferred.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// KPI holds the stages already counted for this message (outbox's
	// KPI counters), so a redelivered webhook or a restart counts none twice.
	KPI uint16 `json:"kpi,omitempty"`
	// DeliveredAt is when WhatsApp first reported the message delivered;
	// a message from the recipient in the 24 h after it counts as a reply.
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
}

// WithoutContact returns n stripped of everything that came from the
// recipient's contact: the number, the rendered parameters (the buyer's
// name is one) and the language. Status, reason, IDs, PhoneRef and the
// template name stay, so the listing still says what happened.
func (n Notification) WithoutContact() Notification {
	n.Phone, n.TimeZone = "", ""
	n.Message.To = ""
	n.Message.Language = ""
	n.Message.Components = nil
	return n
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
