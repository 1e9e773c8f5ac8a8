package epcis

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// CBV 2.0 business steps and dispositions used by the mapping (bare words:
// the GS1 context expands them to https://ref.gs1.org/cbv/...).
const (
	StepCommissioning   = "commissioning"
	StepShipping        = "shipping"
	StepAccepting       = "accepting"
	StepReceiving       = "receiving"
	StepInspecting      = "inspecting"
	StepVoidShipping    = "void_shipping"
	StepSensorReporting = "sensor_reporting"

	DispActive        = "active"
	DispInTransit     = "in_transit"
	DispInProgress    = "in_progress"
	DispNonConformant = "non_conformant"
)

// Source and destination types.
const (
	OwningParty     = "owning_party"
	PossessingParty = "possessing_party"
	LocationType    = "location"
)

// Temperature is the CBV measurement type of a reading and CEL (degree
// Celsius, UN/ECE Recommendation 20) its unit.
const (
	Temperature = "Temperature"
	Celsius     = "CEL"
)

// ReadingsForm says how readings are exported.
type ReadingsForm string

// Readings forms.
const (
	// ReadingsFull: every reading, one sensorReport each with its own time,
	// grouped into one event per sensor, recording member and hour. Lossless,
	// so a capture reproduces the readings.
	ReadingsFull ReadingsForm = "full"
	// ReadingsSummary: per sensor, recording member and hour one
	// sensorReport with minValue, maxValue and meanValue between the
	// metadata's startTime and endTime. An hour of one-minute readings is
	// one report instead of sixty; it cannot be captured back as readings.
	ReadingsSummary ReadingsForm = "summary"
	// ReadingsNone leaves readings out.
	ReadingsNone ReadingsForm = "none"
)

// ParseReadingsForm reads the readings query parameter ("" is full).
func ParseReadingsForm(s string) (ReadingsForm, error) {
	switch f := ReadingsForm(s); f {
	case "":
		return ReadingsFull, nil
	case ReadingsFull, ReadingsSummary, ReadingsNone:
		return f, nil
	}
	return "", fmt.Errorf("readings: must be full, summary or none")
}

// Record is what the ledger says about one shipment: its committed
// versions (ShipmentHistory, any order) and its readings.
type Record struct {
	History  []shipment.HistoryEntry
	Readings []shipment.Reading
}

// Export maps a shipment's history and readings to ObjectEvents in
// eventTime order. Every committed transaction that moved the goods or
// attached a document is one event; sensor pairing, the overdue flag and
// the breach verdict have no EPCIS counterpart and are left out (the
// readings themselves are exported).
func (ids Identifiers) Export(r Record, form ReadingsForm) []Event {
	hist := slices.Clone(r.History)
	slices.SortStableFunc(hist, func(a, b shipment.HistoryEntry) int { return a.Time.Compare(b.Time) })
	var (
		events []Event
		prev   *shipment.Shipment
	)
	for _, h := range hist {
		if h.IsDelete || h.Shipment == nil {
			continue
		}
		if e, ok := ids.transition(prev, h); ok {
			events = append(events, e)
		}
		prev = h.Shipment
	}
	if prev != nil && form != ReadingsNone {
		events = append(events, ids.sensorEvents(prev, r.Readings, form)...)
	}
	slices.SortStableFunc(events, func(a, b Event) int { return a.EventTime.Compare(b.EventTime) })
	return events
}

// transition is the event of the transaction that turned prev into h's
// version, if it is one EPCIS describes.
func (ids Identifiers) transition(prev *shipment.Shipment, h shipment.HistoryEntry) (Event, bool) {
	s := h.Shipment
	e := ids.base(s, h.Time, eventID(s.ID, h.TxID, ""))
	owner := ids.Party(s.Exporter)
	switch {
	case prev == nil:
		e.Action, e.BizStep, e.Disposition = "ADD", StepCommissioning, DispActive
		e.BizLocation = PlaceLocation(s.Origin)
		e.ReadPoint = PlaceLocation(s.Origin)
	case len(s.Documents) > len(prev.Documents):
		// A document is evidence about the goods, not a movement: an
		// OBSERVE without a business step, carrying the document.
		for _, d := range s.Documents[len(prev.Documents):] {
			e.BizTransactionList = append(e.BizTransactionList, DocumentTransaction(d))
		}
	case prev.Status == shipment.StatusCreated && s.Status == shipment.StatusShipped:
		e.BizStep, e.Disposition = StepShipping, DispInTransit
		e.ReadPoint = PlaceLocation(s.Origin)
		e.SourceList = []Source{{OwningParty, owner}, {PossessingParty, ids.Party(s.Custodian)}}
		e.DestinationList = []Destination{{OwningParty, ids.Party(s.Buyer)}}
		if loc := PlaceLocation(s.Destination); loc != nil {
			e.DestinationList = append(e.DestinationList, Destination{LocationType, loc.ID})
		}
	case s.Status == shipment.StatusDelivered && prev.Status != shipment.StatusDelivered:
		e.BizStep, e.Disposition = StepReceiving, DispInProgress
		e.ReadPoint = PlaceLocation(s.Destination)
		e.BizLocation = PlaceLocation(s.Destination)
		e.SourceList = []Source{{OwningParty, owner}, {PossessingParty, ids.Party(prev.Custodian)}}
		e.DestinationList = []Destination{{OwningParty, ids.Party(s.Buyer)}, {PossessingParty, ids.Party(s.Buyer)}}
	case s.Status == shipment.StatusInTransit && s.Custodian != prev.Custodian:
		// Possession changes; title stays with the exporter until delivery.
		e.BizStep, e.Disposition = StepAccepting, DispInTransit
		e.SourceList = []Source{{OwningParty, owner}, {PossessingParty, ids.Party(prev.Custodian)}}
		e.DestinationList = []Destination{{OwningParty, owner}, {PossessingParty, ids.Party(s.Custodian)}}
	case s.Status == shipment.StatusRejected && prev.Status != shipment.StatusRejected:
		e.BizStep, e.Disposition = StepInspecting, DispNonConformant
		e.ReadPoint = PlaceLocation(s.Destination)
	case s.Status == shipment.StatusCancelled && prev.Status != shipment.StatusCancelled:
		// No disposition: the goods stay active with the exporter; only
		// the announced shipment is withdrawn.
		e.BizStep, e.Disposition = StepVoidShipping, ""
		e.ReadPoint = PlaceLocation(s.Origin)
	default:
		return Event{}, false
	}
	return e, true
}

// base is an OBSERVE of the shipment's goods at t, tied to the shipment
// (desadv) and the buyer's order (po).
func (ids Identifiers) base(s *shipment.Shipment, t time.Time, id string) Event {
	q := Quantity{EPCClass: ids.Class(s.Exporter, s.Product)}
	if s.Product.Quantity > 0 {
		q.Quantity = ptr(s.Product.Quantity)
		q.UOM = unitCodes[s.Product.Unit]
	}
	bt := []BizTransaction{{Type: "desadv", BizTransaction: ShipmentURI(s.ID)}}
	if s.BuyerRef != "" {
		bt = append(bt, BizTransaction{Type: "po", BizTransaction: poURN + s.Buyer + ":" + escapeEPC(s.BuyerRef)})
	}
	return Event{
		Type: "ObjectEvent", EventID: id, EventTime: t.UTC(), EventTimeZoneOffset: "+00:00", Action: "OBSERVE",
		QuantityList: []Quantity{q}, BizTransactionList: bt,
	}
}

// unitCodes are UN/ECE Recommendation 20 codes of the measured units. The
// counted units (pcs, box, carton, pallet, ...) have none: a quantity
// without uom counts trade items of the class, which is what they are.
var unitCodes = map[string]string{"kg": "KGM", "t": "TNE", "l": "LTR", "m3": "MTQ"}

// DocumentTransaction names an attached document by its digest, as an RFC
// 6920 ni URI, with the CBV type where one fits and a shiptrace type else.
func DocumentTransaction(d shipment.Document) BizTransaction {
	sum, _ := hex.DecodeString(d.SHA256)
	return BizTransaction{Type: docTypeOf(d.Type), BizTransaction: "ni:///sha-256;" + base64.RawURLEncoding.EncodeToString(sum)}
}

// docTypes map shiptrace document types to CBV business transaction types
// one to one, so a capture can map them back; the rest keep their own name.
var docTypes = map[string]string{"bill_of_lading": "bol", "commercial_invoice": "inv"}

func docTypeOf(t string) string {
	if v, ok := docTypes[t]; ok {
		return v
	}
	return docTypeURN + t
}

// eventID derives an event's ID from the transaction that made it: a
// name-based UUID (RFC 9562 version 5) of the shipment, the transaction and
// a discriminator. The same transaction gives the same ID in every export
// from any member's gateway. It is not the GS1 event hash (ni:///sha-256
// over the canonical event): that hash changes with every detail of the
// mapping (a GLN configured later, a fixed lot escape), while an event ID
// must not.
func eventID(shipmentID, txID, part string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(shipmentID + "\x00" + txID + "\x00" + part))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return "urn:uuid:" + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// namespace is the UUID namespace of shiptrace event IDs (itself the v5
// UUID of "shiptrace.epcis" in the URL namespace).
var namespace = [16]byte{0x3d, 0x6f, 0x41, 0x0b, 0x9a, 0x52, 0x5c, 0x1e, 0x8b, 0x27, 0x61, 0x0e, 0x2c, 0x49, 0x7a, 0x13}

// group is the readings of one sensor recorded by one member in one hour.
type group struct {
	sensor, by string
	hour       time.Time
	readings   []shipment.Reading
}

// sensorEvents groups readings by sensor, recording member and UTC hour,
// at most MaxBatchReadings to an event (what one capture transaction can
// record). Readings carry no transaction, so their events are named by
// their content: the ID stays the same until a late reading lands in the
// same hour.
func (ids Identifiers) sensorEvents(s *shipment.Shipment, readings []shipment.Reading, form ReadingsForm) []Event {
	sorted := slices.Clone(readings)
	slices.SortStableFunc(sorted, shipment.CompareReadings)
	open := map[string]*group{} // the group still filling, by sensor, member and hour
	var order []*group
	for _, r := range sorted {
		by, _, _ := strings.Cut(r.RecordedBy, "/")
		hour := r.Time.UTC().Truncate(time.Hour)
		k := r.SensorID + "\x00" + by + "\x00" + hour.Format(time.RFC3339)
		g, ok := open[k]
		if !ok || len(g.readings) == shipment.MaxBatchReadings {
			g = &group{sensor: r.SensorID, by: by, hour: hour}
			open[k] = g
			order = append(order, g)
		}
		g.readings = append(g.readings, r)
	}
	var out []Event
	for _, g := range order {
		last := g.readings[len(g.readings)-1].Time
		e := ids.base(s, last, eventID(s.ID, contentDigest(g), "readings"))
		e.BizStep = StepSensorReporting
		first := g.readings[0].Time.UTC()
		md := &SensorMetadata{DeviceID: Sensor(g.sensor), StartTime: ptr(first), EndTime: ptr(last.UTC())}
		el := SensorElement{SensorMetadata: md}
		if form == ReadingsSummary {
			el.SensorReport = []SensorReport{summary(g.readings)}
		} else {
			for _, r := range g.readings {
				el.SensorReport = append(el.SensorReport, SensorReport{Type: Temperature, Time: ptr(r.Time.UTC()), Value: ptr(r.Celsius), UOM: Celsius})
			}
		}
		e.SensorElementList = []SensorElement{el}
		if g.by != "" {
			e.SourceList = []Source{{PossessingParty, ids.Party(g.by)}}
		}
		out = append(out, e)
	}
	return out
}

func summary(rs []shipment.Reading) SensorReport {
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, r := range rs {
		lo, hi, sum = min(lo, r.Celsius), max(hi, r.Celsius), sum+r.Celsius
	}
	mean := math.Round(sum/float64(len(rs))*1000) / 1000
	return SensorReport{Type: Temperature, MinValue: ptr(lo), MaxValue: ptr(hi), MeanValue: ptr(mean), UOM: Celsius}
}

func contentDigest(g *group) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s|%s\n", g.sensor, g.by)
	for _, r := range g.readings {
		fmt.Fprintf(h, "%d|%g\n", r.Time.UnixNano(), r.Celsius)
	}
	return hex.EncodeToString(h.Sum(nil))
}
