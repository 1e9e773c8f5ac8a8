// Package shipment holds the rules of the shiptrace contract: the shipment
// record, its validation, the state machine and who may drive it, cold-chain
// evaluation and settlement. It has no Fabric import, so the rules are tested
// in microseconds and shared by the chaincode, the gateway and the notifier.
package shipment

import "time"

// Status is the position of a shipment in its life cycle.
type Status string

// The life cycle: CREATED -> SHIPPED -> IN_TRANSIT -> DELIVERED, with
// CANCELLED (before shipping) and REJECTED (by the buyer) as other ends.
const (
	StatusCreated   Status = "CREATED"
	StatusShipped   Status = "SHIPPED"
	StatusInTransit Status = "IN_TRANSIT"
	StatusDelivered Status = "DELIVERED"
	StatusCancelled Status = "CANCELLED"
	StatusRejected  Status = "REJECTED"
)

// Statuses lists every status in life-cycle order.
var Statuses = []Status{StatusCreated, StatusShipped, StatusInTransit, StatusDelivered, StatusCancelled, StatusRejected}

// Terminal reports whether no further transition is possible.
func (s Status) Terminal() bool {
	return s == StatusDelivered || s == StatusCancelled || s == StatusRejected
}

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Product identifies the goods. One of GTIN or SKU identifies the trade item;
// the lot ties the shipment to a production batch for recalls and origin proofs.
type Product struct {
	GTIN        string  `json:"gtin,omitempty"`
	SKU         string  `json:"sku,omitempty"`
	Lot         string  `json:"lot"`
	Description string  `json:"description"`
	Quantity    float64 `json:"quantity"`
	Unit        string  `json:"unit"`
}

// Place is an origin or destination: a name, an ISO 3166-1 alpha-2 country and,
// where the parties use GS1, a Global Location Number.
type Place struct {
	Name    string `json:"name"`
	Country string `json:"country"`
	GLN     string `json:"gln,omitempty"`
}

// ColdChainPolicy is the temperature band the goods must stay in. A reading
// outside [MinC, MaxC] starts an excursion; an excursion longer than
// MaxExcursionMinutes, or any reading outside the optional hard limits,
// breaches the cold chain.
type ColdChainPolicy struct {
	MinC                float64  `json:"minC"`
	MaxC                float64  `json:"maxC"`
	MaxExcursionMinutes int64    `json:"maxExcursionMinutes"`
	HardMinC            *float64 `json:"hardMinC,omitempty"`
	HardMaxC            *float64 `json:"hardMaxC,omitempty"`
}

// Terms are the commercial terms settled by the contract on Deliver, Reject and
// FlagOverdue. Amounts are integers in the currency's minor unit and rates are
// basis points (1/100 of a percent), so settlement is exact and deterministic.
type Terms struct {
	Currency             string `json:"currency"`
	InvoiceAmountMinor   int64  `json:"invoiceAmountMinor"`
	LatePenaltyBpsPerDay int64  `json:"latePenaltyBpsPerDay"`
	LatePenaltyCapBps    int64  `json:"latePenaltyCapBps"`
	BreachRefundBps      int64  `json:"breachRefundBps"`
}

// Document is evidence attached to a shipment: only its type and SHA-256 digest
// go on the ledger (the file itself stays off-chain, optionally at URI).
type Document struct {
	Type    string    `json:"type"`
	SHA256  string    `json:"sha256"`
	URI     string    `json:"uri,omitempty"`
	AddedBy string    `json:"addedBy,omitempty"`
	AddedAt time.Time `json:"addedAt,omitzero"`
}

// NewShipment is what an exporter submits to create a shipment. The exporter,
// custodian, status and times are not part of it: the contract takes them from
// the caller's identity and the transaction.
type NewShipment struct {
	ID                 string          `json:"id"`
	Buyer              string          `json:"buyer"`
	Carrier            string          `json:"carrier,omitempty"`
	BuyerRef           string          `json:"buyerRef"`
	Product            Product         `json:"product"`
	Origin             Place           `json:"origin"`
	Destination        Place           `json:"destination"`
	ColdChain          ColdChainPolicy `json:"coldChain"`
	ExpectedDeliveryAt time.Time       `json:"expectedDeliveryAt"`
	Terms              *Terms          `json:"terms,omitempty"`
}

// Shipment is the public record of one shipment, stored under one key.
// UpdatedBy and UpdatedTx name the organisation and transaction of the last
// change, so the key's history shows who did what. Version counts the
// record's committed writes (1 after the create); the contract sets it, so a
// client can tell which of two copies it read is newer without comparing
// times.
type Shipment struct {
	ID              string           `json:"id"`
	Exporter        string           `json:"exporter"`
	Carrier         string           `json:"carrier,omitempty"`
	Buyer           string           `json:"buyer"`
	BuyerRef        string           `json:"buyerRef"`
	Custodian       string           `json:"custodian"`
	Custody         []CustodyPeriod  `json:"custody,omitempty"`
	Status          Status           `json:"status"`
	Product         Product          `json:"product"`
	Origin          Place            `json:"origin"`
	Destination     Place            `json:"destination"`
	ColdChainPolicy ColdChainPolicy  `json:"coldChainPolicy"`
	ColdChain       ColdChainSummary `json:"coldChain"`
	// ColdChainVerdict is the stored part of the cold chain (registered
	// sensors, the breach); ColdChain is put together from it and the
	// sensors' own keys when the record is read.
	ColdChainVerdict   ColdChainVerdict `json:"coldChainVerdict,omitzero"`
	Documents          []Document       `json:"documents,omitempty"`
	ExpectedDeliveryAt time.Time        `json:"expectedDeliveryAt"`
	Terms              *Terms           `json:"terms,omitempty"`
	Settlement         *Settlement      `json:"settlement,omitempty"`
	Overdue            bool             `json:"overdue,omitempty"`
	HasBuyerContact    bool             `json:"hasBuyerContact,omitempty"`
	// DueDiligence is the buyer's EUDR due-diligence statement reference.
	DueDiligence *DueDiligence `json:"dueDiligence,omitempty"`
	// Plots is the public summary of the EUDR production plots; it is kept
	// under its own key and filled in when the record is read.
	Plots       *PlotsSummary `json:"plots,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	CreatedAt   time.Time     `json:"createdAt"`
	ShippedAt   time.Time     `json:"shippedAt,omitzero"`
	DeliveredAt time.Time     `json:"deliveredAt,omitzero"`
	UpdatedAt   time.Time     `json:"updatedAt"`
	UpdatedBy   string        `json:"updatedBy"`
	UpdatedTx   string        `json:"updatedTx,omitempty"`
	Version     int64         `json:"version,omitempty"`
}

// Contact is how the exporter reaches the buyer's people. It is personal data:
// it lives only in the exporter's implicit private data collection, never in
// public state, events, errors or logs.
type Contact struct {
	Phone    string `json:"phone"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Consent  bool   `json:"consent"`
	// TimeZone is the buyer's IANA time zone (Europe/Berlin), when the
	// number's country does not say it well enough (several zones, or a
	// buyer abroad): the notifier keeps its quiet hours and daily cap in it.
	TimeZone string `json:"timeZone,omitempty"`
}
