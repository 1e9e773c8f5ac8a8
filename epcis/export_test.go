package epcis

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

var t0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

// lifecycle is a shipment's history as the contract writes it: create,
// a document, ship, two hand-overs, delivery (or the given end).
func lifecycle(end shipment.Status) []shipment.HistoryEntry {
	s := shipment.Shipment{
		ID: "SHP-1", Exporter: "ExporterMSP", Buyer: "RetailerMSP", BuyerRef: "PO 4711", Custodian: "ExporterMSP",
		Status:  shipment.StatusCreated,
		Product: shipment.Product{GTIN: "4012345000016", Lot: "L 26/11", Description: "Avocados", Quantity: 1200, Unit: "kg"},
		Origin:  shipment.Place{Name: "Lima", Country: "PE", GLN: "4012345000009"}, Destination: shipment.Place{Name: "Hamburg", Country: "DE"},
	}
	var h []shipment.HistoryEntry
	add := func(tx string, at time.Time, by string, f func(*shipment.Shipment)) {
		f(&s)
		s.UpdatedBy, s.UpdatedAt, s.UpdatedTx = by, at, tx
		v := s
		v.Documents = append([]shipment.Document(nil), s.Documents...)
		h = append(h, shipment.HistoryEntry{TxID: tx, Time: at, MSPID: by, Shipment: &v})
	}
	add("tx1", t0, "ExporterMSP", func(*shipment.Shipment) {})
	add("tx2", t0.Add(time.Minute), "ExporterMSP", func(s *shipment.Shipment) {
		s.Documents = append(s.Documents, shipment.Document{Type: "bill_of_lading", SHA256: strings.Repeat("ab", 32)})
	})
	if end == shipment.StatusCancelled {
		add("tx3", t0.Add(2*time.Minute), "ExporterMSP", func(s *shipment.Shipment) { s.Status = shipment.StatusCancelled })
		return h
	}
	add("tx3", t0.Add(time.Hour), "ExporterMSP", func(s *shipment.Shipment) { s.Status = shipment.StatusShipped })
	add("tx4", t0.Add(2*time.Hour), "ExporterMSP", func(s *shipment.Shipment) {
		s.Status, s.Custodian, s.Carrier = shipment.StatusInTransit, "CarrierMSP", "CarrierMSP"
	})
	add("tx5", t0.Add(3*time.Hour), "CarrierMSP", func(s *shipment.Shipment) { s.Overdue = true }) // no EPCIS counterpart
	switch end {
	case shipment.StatusRejected:
		add("tx6", t0.Add(5*time.Hour), "RetailerMSP", func(s *shipment.Shipment) { s.Status = shipment.StatusRejected })
	default:
		add("tx6", t0.Add(5*time.Hour), "RetailerMSP", func(s *shipment.Shipment) {
			s.Status, s.Custodian = shipment.StatusDelivered, "RetailerMSP"
		})
	}
	return h
}

func readingsFixture() []shipment.Reading {
	var rs []shipment.Reading
	for i := range 90 { // 2:00 to 3:29: two hours, so two events
		rs = append(rs, shipment.Reading{SensorID: "LOG-7", Time: t0.Add(2*time.Hour + time.Duration(i)*time.Minute),
			Celsius: 4 + float64(i%5)/10, RecordedBy: "CarrierMSP/logger7"})
	}
	return rs
}

func mustValidate(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return b
}

func TestGS1ExamplesValidateAndBrokenOnesDoNot(t *testing.T) {
	for _, f := range []string{"testdata/Example_9.6.1-ObjectEvent.jsonld", "testdata/SensorDataExample1.jsonld"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		for _, breakIt := range []struct{ from, to string }{
			{`"action": "OBSERVE"`, `"action": "WATCH"`},        // enum
			{`"bizStep": "`, `"bizStep": "urn:epcglobal:cbv:x`}, // pattern with look-ahead
			{`"schemaVersion": "2.0"`, `"schemaVersion": 2`},    // type
			{`"eventTimeZoneOffset": "`, `"eventTimeZoneOffset": "x`},
		} {
			bad := strings.Replace(string(b), breakIt.from, breakIt.to, 1)
			if bad == string(b) {
				continue
			}
			if err := Validate([]byte(bad)); err == nil {
				t.Errorf("%s with %s: want a schema error", f, breakIt.to)
			}
		}
	}
	if err := Validate([]byte(`{"type":"ObjectEvent","eventID":"not a uri","action":"OBSERVE","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","epcList":[]}`)); err == nil {
		t.Error("a single event without @context and with a non-URI eventID passed")
	}
}

func TestExportMapsEachTransactionToItsCBVEvent(t *testing.T) {
	ids := Identifiers{Parties: map[string]string{"ExporterMSP": "4012345000009", "RetailerMSP": "4098765000003"}}
	events := ids.Export(Record{History: lifecycle(shipment.StatusDelivered), Readings: readingsFixture()}, ReadingsFull)
	mustValidate(t, NewDocument(events, t0.Add(6*time.Hour)))

	var steps []string
	seen := map[string]bool{}
	for _, e := range events {
		steps = append(steps, e.BizStep+"/"+e.Disposition)
		if seen[e.EventID] || !strings.HasPrefix(e.EventID, "urn:uuid:") {
			t.Errorf("event ID %q repeated or not a UUID URN", e.EventID)
		}
		seen[e.EventID] = true
		if got := e.QuantityList[0].EPCClass; got != "https://id.gs1.org/01/04012345000016/10/L%2026%2F11" {
			t.Errorf("class %s", got)
		}
	}
	want := "commissioning/active,/,shipping/in_transit,accepting/in_transit,sensor_reporting/,sensor_reporting/,receiving/in_progress"
	if strings.Join(steps, ",") != want {
		t.Fatalf("steps\n got %s\nwant %s", strings.Join(steps, ","), want)
	}
	doc, ship, handover, receive := events[1], events[2], events[3], events[6]
	if doc.BizTransactionList[len(doc.BizTransactionList)-1] != (BizTransaction{"bol", "ni:///sha-256;q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s"}) {
		t.Errorf("document %+v", doc.BizTransactionList)
	}
	if ship.ReadPoint == nil || ship.ReadPoint.ID != "https://id.gs1.org/414/4012345000009" {
		t.Errorf("shipping read point %+v", ship.ReadPoint)
	}
	exporter, carrier, buyer := "https://id.gs1.org/417/4012345000009", "urn:shiptrace:party:CarrierMSP", "https://id.gs1.org/417/4098765000003"
	if handover.SourceList[1] != (Source{PossessingParty, exporter}) || handover.DestinationList[1] != (Destination{PossessingParty, carrier}) ||
		handover.DestinationList[0] != (Destination{OwningParty, exporter}) {
		t.Errorf("hand-over %+v %+v", handover.SourceList, handover.DestinationList)
	}
	if receive.SourceList[1] != (Source{PossessingParty, carrier}) || receive.DestinationList[0] != (Destination{OwningParty, buyer}) {
		t.Errorf("receiving %+v %+v", receive.SourceList, receive.DestinationList)
	}
	if receive.BizTransactionList[0] != (BizTransaction{"desadv", "urn:shiptrace:shipment:SHP-1"}) {
		t.Errorf("receiving transactions %+v", receive.BizTransactionList)
	}
	var n int
	for _, e := range events[4:6] {
		el := e.SensorElementList[0]
		n += len(el.SensorReport)
		if el.SensorMetadata.DeviceID != "urn:shiptrace:sensor:LOG-7" || el.SensorReport[0].Type != "Temperature" || el.SensorReport[0].UOM != "CEL" ||
			e.SourceList[0].Source != carrier {
			t.Errorf("sensor event %+v", e)
		}
	}
	if n != 90 {
		t.Errorf("%d readings exported, want 90", n)
	}

	// The same ledger exports the same IDs.
	again := ids.Export(Record{History: lifecycle(shipment.StatusDelivered), Readings: readingsFixture()}, ReadingsFull)
	for i := range events {
		if events[i].EventID != again[i].EventID {
			t.Fatalf("event %d: ID %s then %s", i, events[i].EventID, again[i].EventID)
		}
	}
}

func TestExportOtherEndsAndForms(t *testing.T) {
	for _, end := range []shipment.Status{shipment.StatusRejected, shipment.StatusCancelled} {
		events := Identifiers{}.Export(Record{History: lifecycle(end)}, ReadingsFull)
		mustValidate(t, NewDocument(events, t0))
		last := events[len(events)-1]
		want := map[shipment.Status]string{shipment.StatusRejected: "inspecting/non_conformant", shipment.StatusCancelled: "void_shipping/"}[end]
		if got := last.BizStep + "/" + last.Disposition; got != want {
			t.Errorf("%s: last event %s, want %s", end, got, want)
		}
	}
	// Summary: one report per sensor and hour.
	events := Identifiers{}.Export(Record{History: lifecycle(shipment.StatusDelivered), Readings: readingsFixture()}, ReadingsSummary)
	mustValidate(t, NewDocument(events, t0))
	for _, e := range events {
		if e.BizStep != StepSensorReporting {
			continue
		}
		r := e.SensorElementList[0].SensorReport
		if len(r) != 1 || r[0].MinValue == nil || *r[0].MinValue != 4 || *r[0].MaxValue != 4.4 || r[0].Value != nil {
			t.Errorf("summary %+v", r)
		}
	}
}

func TestProductClassForms(t *testing.T) {
	ids := Identifiers{Products: []ProductRule{
		{GTIN: "4012345000016", Form: FormLGTINURN, CompanyPrefixLength: 7},
		{SKU: "AVO-HASS", GTIN: "04012345000023"},
	}}
	for _, c := range []struct {
		p    shipment.Product
		want string
	}{
		{shipment.Product{GTIN: "4012345000016", Lot: "L1"}, "urn:epc:class:lgtin:4012345.000001.L1"},
		{shipment.Product{SKU: "AVO-HASS", Lot: "L1"}, "https://id.gs1.org/01/04012345000023/10/L1"},
		{shipment.Product{SKU: "MANGO/KENT", Lot: "L 1"}, "urn:shiptrace:sku:ExporterMSP:MANGO%2FKENT:L%201"},
		{shipment.Product{GTIN: "12345670", Lot: "A"}, "https://id.gs1.org/01/00000012345670/10/A"},
	} {
		if got := ids.Class("ExporterMSP", c.p); got != c.want {
			t.Errorf("%+v: %s, want %s", c.p, got, c.want)
		}
	}
	if err := ids.Validate(); err != nil {
		t.Error(err)
	}
	for _, bad := range []Identifiers{
		{Parties: map[string]string{"ExporterMSP": "4012345000008"}},
		{Products: []ProductRule{{GTIN: "4012345000016", Form: FormLGTINURN}}},
		{Products: []ProductRule{{Form: FormDigitalLink}}},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v passed", bad)
		}
	}
}
