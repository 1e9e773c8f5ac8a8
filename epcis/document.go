package epcis

import "time"

// ContextURL is the GS1 EPCIS 2.0.0 JSON-LD context every document names.
const ContextURL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

// MediaType is the media type of an EPCIS 2.0 JSON-LD document.
const MediaType = "application/ld+json"

// Document is an EPCISDocument: the unit exported and captured.
type Document struct {
	Context       []any     `json:"@context"`
	ID            string    `json:"id,omitempty"`
	Type          string    `json:"type"`
	SchemaVersion string    `json:"schemaVersion"`
	CreationDate  time.Time `json:"creationDate"`
	Body          Body      `json:"epcisBody"`
}

// Body holds the events of a document.
type Body struct {
	EventList []Event `json:"eventList"`
}

// NewDocument wraps events in an EPCIS 2.0 document created at created.
func NewDocument(events []Event, created time.Time) Document {
	if events == nil {
		events = []Event{}
	}
	return Document{
		Context:       []any{ContextURL},
		Type:          "EPCISDocument",
		SchemaVersion: "2.0",
		CreationDate:  created.UTC(),
		Body:          Body{EventList: events},
	}
}

// Event is an EPCIS ObjectEvent, the only event type shiptrace writes or
// reads: a shipment is goods (a class and lot) observed at business steps.
// Members a partner sends that are not modelled here (extensions, other
// standard fields) are ignored by a capture.
type Event struct {
	Type                string           `json:"type"`
	EventID             string           `json:"eventID,omitempty"`
	EventTime           time.Time        `json:"eventTime"`
	EventTimeZoneOffset string           `json:"eventTimeZoneOffset"`
	Action              string           `json:"action"`
	EPCList             []string         `json:"epcList,omitempty"`
	QuantityList        []Quantity       `json:"quantityList,omitempty"`
	BizStep             string           `json:"bizStep,omitempty"`
	Disposition         string           `json:"disposition,omitempty"`
	ReadPoint           *Location        `json:"readPoint,omitempty"`
	BizLocation         *Location        `json:"bizLocation,omitempty"`
	BizTransactionList  []BizTransaction `json:"bizTransactionList,omitempty"`
	SourceList          []Source         `json:"sourceList,omitempty"`
	DestinationList     []Destination    `json:"destinationList,omitempty"`
	SensorElementList   []SensorElement  `json:"sensorElementList,omitempty"`
}

// Quantity is a class-level identifier with an amount (quantityList).
type Quantity struct {
	EPCClass string   `json:"epcClass"`
	Quantity *float64 `json:"quantity,omitempty"`
	UOM      string   `json:"uom,omitempty"`
}

// Location is a readPoint or bizLocation.
type Location struct {
	ID string `json:"id"`
}

// BizTransaction names a business transaction (or a document) the event
// belongs to.
type BizTransaction struct {
	Type           string `json:"type,omitempty"`
	BizTransaction string `json:"bizTransaction"`
}

// Source is an entry of sourceList.
type Source struct {
	Type   string `json:"type"`
	Source string `json:"source"`
}

// Destination is an entry of destinationList.
type Destination struct {
	Type        string `json:"type"`
	Destination string `json:"destination"`
}

// SensorElement is one sensor's reports with what they share.
type SensorElement struct {
	SensorMetadata *SensorMetadata `json:"sensorMetadata,omitempty"`
	SensorReport   []SensorReport  `json:"sensorReport"`
}

// SensorMetadata is what a sensor element's reports share.
type SensorMetadata struct {
	Time      *time.Time `json:"time,omitempty"`
	DeviceID  string     `json:"deviceID,omitempty"`
	StartTime *time.Time `json:"startTime,omitempty"`
	EndTime   *time.Time `json:"endTime,omitempty"`
}

// SensorReport is one measurement (Value) or a summary of several
// (MinValue, MaxValue, MeanValue).
type SensorReport struct {
	Type      string     `json:"type"`
	DeviceID  string     `json:"deviceID,omitempty"`
	Time      *time.Time `json:"time,omitempty"`
	Value     *float64   `json:"value,omitempty"`
	MinValue  *float64   `json:"minValue,omitempty"`
	MaxValue  *float64   `json:"maxValue,omitempty"`
	MeanValue *float64   `json:"meanValue,omitempty"`
	UOM       string     `json:"uom,omitempty"`
}

func ptr[T any](v T) *T { return &v }
