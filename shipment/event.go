package shipment

import "time"

// EventType names a chaincode event; it is also the Fabric event name.
type EventType string

// Event types, one per state-changing transaction.
const (
	EventCreated           EventType = "shipment.created"
	EventDocumentAttached  EventType = "shipment.document_attached"
	EventShipped           EventType = "shipment.shipped"
	EventCustodyTransfered EventType = "shipment.custody_transferred"
	EventReadingsRecorded  EventType = "readings.recorded"
	EventSensorsRegistered EventType = "coldchain.sensors_registered"
	EventColdChainBreached EventType = "coldchain.breached"
	EventDelivered         EventType = "shipment.delivered"
	EventRejected          EventType = "shipment.rejected"
	EventCancelled         EventType = "shipment.cancelled"
	EventOverdue           EventType = "shipment.overdue"
	EventContactUpdated    EventType = "contact.updated"
	EventContactDeleted    EventType = "contact.deleted"
	EventClaimOpened       EventType = "shipment.claim_opened"
	EventPlotsAttached     EventType = "eudr.plots_attached"
	EventPlotsErased       EventType = "eudr.plots_erased"
	EventDDSRecorded       EventType = "eudr.dds_recorded"
)

// EventVersion is the payload version; it changes only on incompatible changes.
const EventVersion = 1

// EventColdChain is the cold-chain part of an event payload.
type EventColdChain struct {
	State          ColdChainState `json:"state"`
	Count          int64          `json:"count"`
	MinC           *float64       `json:"minC,omitempty"`
	MaxC           *float64       `json:"maxC,omitempty"`
	ExcursionStart time.Time      `json:"excursionStart,omitzero"`
	BreachedAt     time.Time      `json:"breachedAt,omitzero"`
	BreachReason   string         `json:"breachReason,omitempty"`
}

// Event is the payload of a chaincode event: enough for a notifier to word a
// message without reading the ledger. It never holds contact data.
type Event struct {
	Version            int             `json:"version"`
	Type               EventType       `json:"type"`
	ShipmentID         string          `json:"shipmentId"`
	Status             Status          `json:"status"`
	Exporter           string          `json:"exporter"`
	Carrier            string          `json:"carrier,omitempty"`
	Buyer              string          `json:"buyer"`
	Custodian          string          `json:"custodian"`
	BuyerRef           string          `json:"buyerRef"`
	Time               time.Time       `json:"time"`
	By                 string          `json:"by"`
	Product            string          `json:"product"`
	Destination        string          `json:"destination"`
	ExpectedDeliveryAt time.Time       `json:"expectedDeliveryAt"`
	ColdChain          *EventColdChain `json:"coldChain,omitempty"`
	Settlement         *Settlement     `json:"settlement,omitempty"`
	FromCustodian      string          `json:"fromCustodian,omitempty"`
	Reason             string          `json:"reason,omitempty"`
	Document           *Document       `json:"document,omitempty"`
	Readings           int             `json:"readings,omitempty"`
	// Sensors are the loggers a coldchain.sensors_registered event paired
	// with the shipment.
	Sensors []string `json:"sensors,omitempty"`
	// Claim is the claim a shipment.claim_opened event recorded: its ID,
	// category and digests, never the buyer's words.
	Claim *Claim `json:"claim,omitempty"`
	// Plots is an eudr.plots_* event's summary (hash, count, area,
	// countries): never geometry or producer names.
	Plots *PlotsSummary `json:"plots,omitempty"`
	// DueDiligence is an eudr.dds_recorded event's statement numbers.
	DueDiligence *DueDiligence `json:"dueDiligence,omitempty"`
}

// NewEvent describes s after a change of type t made at time at.
func NewEvent(t EventType, s *Shipment, at time.Time) Event {
	cc := s.ColdChain
	return Event{
		Version:            EventVersion,
		Type:               t,
		ShipmentID:         s.ID,
		Status:             s.Status,
		Exporter:           s.Exporter,
		Carrier:            s.Carrier,
		Buyer:              s.Buyer,
		Custodian:          s.Custodian,
		BuyerRef:           s.BuyerRef,
		Time:               at.UTC(),
		By:                 s.UpdatedBy,
		Product:            s.Product.Description + ", lot " + s.Product.Lot,
		Destination:        s.Destination.Name + ", " + s.Destination.Country,
		ExpectedDeliveryAt: s.ExpectedDeliveryAt,
		ColdChain: &EventColdChain{
			State: cc.State, Count: cc.Count, MinC: cc.MinC, MaxC: cc.MaxC,
			ExcursionStart: cc.ExcursionStart, BreachedAt: cc.BreachedAt, BreachReason: cc.BreachReason,
		},
		Settlement: s.Settlement,
		Reason:     s.Reason,
	}
}
