package epcis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// Command is the contract operation one captured event maps to.
type Command struct {
	Index      int    // position in the document's eventList (0 for a single event)
	EventID    string // the idempotency key
	Op         shipment.Operation
	ShipmentID string
	ToMSP      string             // HandOver
	Readings   []shipment.Reading // RecordReadings, in UTC
	// Event is the event as sent, compacted: with the shipment it is the
	// fingerprint that tells a repeat from a different event reusing an ID.
	Event []byte
}

// Refusal is an event the contract has no operation for, or that it
// cannot map without guessing.
type Refusal struct {
	Index   int    `json:"index"`
	EventID string `json:"eventID,omitempty"`
	Reason  string `json:"reason"`
}

// Capture validates a captured document (an EPCISDocument or a single
// ObjectEvent) against GS1's schema and maps each event to a contract
// operation on the shipment target, or, without a target, on the shipment
// the event names in bizTransactionList (urn:shiptrace:shipment:<id>, as
// exported); readings are checked as of now. It maps every event or none: when any is refused, the
// refusals are returned and no command. A schema violation is a
// *SchemaError.
func (ids Identifiers) Capture(body []byte, target string, now time.Time) ([]Command, []Refusal, error) {
	if err := Validate(body); err != nil {
		return nil, nil, err
	}
	var head struct {
		Type string `json:"type"`
		Body struct {
			EventList []json.RawMessage `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, nil, &SchemaError{Problems: []string{"not valid JSON"}}
	}
	var raws []json.RawMessage
	switch head.Type {
	case "EPCISDocument":
		raws = head.Body.EventList
	case "EPCISQueryDocument":
		return nil, nil, &SchemaError{Problems: []string{"/type: send an EPCISDocument or a single event, not a query document"}}
	default:
		raws = []json.RawMessage{body}
	}
	if len(raws) == 0 {
		return nil, nil, &SchemaError{Problems: []string{"/epcisBody/eventList: holds no event"}}
	}
	var (
		cmds     []Command
		refusals []Refusal
		seen     = map[string]int{}
	)
	for i, raw := range raws {
		c, reason := ids.captureOne(raw, target, now)
		c.Index = i
		if reason == "" {
			if first, dup := seen[c.EventID]; dup {
				reason = fmt.Sprintf("eventID repeats event %d of this document", first)
			}
			seen[c.EventID] = i
		}
		if reason != "" {
			refusals = append(refusals, Refusal{Index: i, EventID: c.EventID, Reason: reason})
			continue
		}
		cmds = append(cmds, c)
	}
	if len(refusals) > 0 {
		return nil, refusals, nil
	}
	return cmds, nil, nil
}

// captureOne maps one event; a non-empty reason refuses it.
func (ids Identifiers) captureOne(raw json.RawMessage, target string, now time.Time) (Command, string) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Command{}, "cannot be read: " + err.Error()
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return Command{}, "cannot be read"
	}
	c := Command{EventID: e.EventID, Event: compact.Bytes()}
	if e.Type != "ObjectEvent" {
		return c, e.Type + ": only ObjectEvents are captured"
	}
	if e.EventID == "" {
		return c, "eventID is required: capture is idempotent by eventID"
	}
	if e.Action != "OBSERVE" {
		return c, "action " + e.Action + ": only OBSERVE events are captured (shipments are created with POST /v1/shipments)"
	}
	c.ShipmentID = target
	if c.ShipmentID == "" {
		for _, bt := range e.BizTransactionList {
			if id, ok := shipmentOf(bt.BizTransaction); ok {
				c.ShipmentID = id
				break
			}
		}
		if c.ShipmentID == "" {
			return c, "names no shipment: add the shipment query parameter or a bizTransaction urn:shiptrace:shipment:<id>"
		}
	}
	step := bare(e.BizStep, "https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:")
	if len(e.SensorElementList) > 0 && step != StepSensorReporting && step != "" {
		return c, "bizStep " + step + " with sensorElementList: send sensor data in its own sensor_reporting event"
	}
	switch step {
	case StepShipping:
		c.Op = shipment.OpShip
	case StepReceiving:
		c.Op = shipment.OpDeliver
	case StepAccepting:
		c.Op = shipment.OpHandOver
		for _, d := range e.DestinationList {
			if bare(d.Type, "https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:sdt:") != PossessingParty {
				continue
			}
			msp, ok := ids.MSPOf(d.Destination)
			if !ok {
				return c, "destination possessing_party " + d.Destination + " is not a member (configure its PGLN in epcis.parties)"
			}
			c.ToMSP = msp
		}
		if c.ToMSP == "" {
			return c, "accepting event without a destination possessing_party: the new custodian is unknown"
		}
	case StepSensorReporting, "":
		if len(e.SensorElementList) == 0 {
			return c, "no bizStep and no sensor data: nothing the contract records (documents are attached with POST /v1/shipments/{id}/documents)"
		}
		rs, reason := readingsOf(e, now)
		if reason != "" {
			return c, reason
		}
		c.Op, c.Readings = shipment.OpRecordReadings, rs
	default:
		return c, "bizStep " + step + " has no contract operation (captured: shipping, accepting, receiving, sensor_reporting)"
	}
	return c, ""
}

// bare strips the CBV's URI forms from a vocabulary word.
func bare(v string, prefixes ...string) string {
	for _, p := range prefixes {
		if w, ok := strings.CutPrefix(v, p); ok {
			return w
		}
	}
	return v
}

// readingsOf turns temperature reports into readings: each needs a value,
// a time (its own, its element's, or the event's) and a device (its own or
// its element's). Degrees Fahrenheit (FAH) and kelvin (KEL) are converted.
// Any other report is refused rather than dropped.
func readingsOf(e Event, now time.Time) ([]shipment.Reading, string) {
	var rs []shipment.Reading
	for i, el := range e.SensorElementList {
		var md SensorMetadata
		if el.SensorMetadata != nil {
			md = *el.SensorMetadata
		}
		for j, r := range el.SensorReport {
			at := fmt.Sprintf("sensorElementList[%d].sensorReport[%d]", i, j)
			if t := bare(r.Type, "gs1:", "https://gs1.org/voc/"); t != Temperature {
				return nil, at + ": type " + r.Type + " is not recorded (only Temperature)"
			}
			if r.Value == nil {
				return nil, at + ": no value (a min/max/mean summary carries no reading)"
			}
			c := *r.Value
			switch r.UOM {
			case Celsius:
			case "FAH":
				c = (c - 32) * 5 / 9
			case "KEL":
				c -= 273.15
			default:
				return nil, at + ": uom " + r.UOM + " is not a temperature unit (CEL, FAH, KEL)"
			}
			c = math.Round(c*1000) / 1000
			t := e.EventTime
			switch {
			case r.Time != nil:
				t = *r.Time
			case md.Time != nil:
				t = *md.Time
			}
			device := r.DeviceID
			if device == "" {
				device = md.DeviceID
			}
			if device == "" {
				return nil, at + ": no deviceID, here or in its sensorMetadata"
			}
			id, err := SensorOf(device)
			if err != nil {
				return nil, at + ": " + err.Error()
			}
			rs = append(rs, shipment.Reading{SensorID: id, Time: t.UTC(), Celsius: c})
		}
	}
	if len(rs) > shipment.MaxBatchReadings {
		return nil, fmt.Sprintf("%d readings: at most %d per event", len(rs), shipment.MaxBatchReadings)
	}
	if err := shipment.ValidateReadings(rs, now); err != nil {
		return nil, err.Error()
	}
	return rs, ""
}
