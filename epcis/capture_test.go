package epcis

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

var ids = Identifiers{Parties: map[string]string{"ExporterMSP": "4012345000009", "RetailerMSP": "4098765000003"}}

func TestFixtureIdentifiersAreValid(t *testing.T) {
	if err := ids.Validate(); err != nil {
		t.Fatal(err)
	}
}

func exported(t *testing.T, keep func(Event) bool) []byte {
	t.Helper()
	var events []Event
	for _, e := range ids.Export(Record{History: lifecycle(shipment.StatusDelivered), Readings: readingsFixture()}, ReadingsFull) {
		if keep(e) {
			events = append(events, e)
		}
	}
	return mustValidate(t, NewDocument(events, t0))
}

func TestCaptureMapsExportedEventsBack(t *testing.T) {
	body := exported(t, func(e Event) bool { return e.BizStep != StepCommissioning && e.BizStep != "" })
	cmds, refusals, err := ids.Capture(body, "SHP-2", t0.Add(24*time.Hour))
	if err != nil || len(refusals) > 0 {
		t.Fatalf("capture: %v %+v", err, refusals)
	}
	var ops []string
	var got []shipment.Reading
	for _, c := range cmds {
		ops = append(ops, string(c.Op)+":"+c.ToMSP)
		got = append(got, c.Readings...)
		if c.ShipmentID != "SHP-2" || c.EventID == "" {
			t.Errorf("command %+v", c)
		}
	}
	if want := "Ship:,HandOver:CarrierMSP,RecordReadings:,RecordReadings:,Deliver:"; strings.Join(ops, ",") != want {
		t.Fatalf("ops %s, want %s", strings.Join(ops, ","), want)
	}
	want := readingsFixture()
	for i := range want {
		want[i].RecordedBy = ""
	}
	if !slices.EqualFunc(got, want, func(a, b shipment.Reading) bool {
		return a.SensorID == b.SensorID && a.Time.Equal(b.Time) && a.Celsius == b.Celsius
	}) {
		t.Errorf("readings differ: %d captured, %d exported", len(got), len(want))
	}
	// Without a target the events name their shipment.
	cmds, _, _ = ids.Capture(body, "", t0.Add(24*time.Hour))
	if cmds[0].ShipmentID != "SHP-1" {
		t.Errorf("shipment %s", cmds[0].ShipmentID)
	}
}

func TestCaptureRefusesWhatTheContractDoesNotKnow(t *testing.T) {
	now := t0.Add(24 * time.Hour)
	// The whole export: creation and the document have no capture.
	_, refusals, err := ids.Capture(exported(t, func(Event) bool { return true }), "SHP-2", now)
	if err != nil || len(refusals) != 2 || refusals[0].Index != 0 || !strings.Contains(refusals[0].Reason, "ADD") ||
		refusals[1].Index != 1 || !strings.Contains(refusals[1].Reason, "no bizStep") || refusals[1].EventID == "" {
		t.Fatalf("refusals %+v, %v", refusals, err)
	}
	event := func(mut func(map[string]any)) []byte {
		e := map[string]any{
			"@context": []any{ContextURL}, "type": "ObjectEvent", "eventID": "urn:uuid:0b2f4a34-1c1e-5a55-8f3a-1b2c3d4e5f60",
			"action": "OBSERVE", "eventTime": "2026-11-02T10:00:00Z", "eventTimeZoneOffset": "+00:00",
			"quantityList": []any{map[string]any{"epcClass": "https://id.gs1.org/01/04012345000016/10/L1"}},
			"bizStep":      "sensor_reporting",
			"sensorElementList": []any{map[string]any{
				"sensorMetadata": map[string]any{"deviceID": "urn:epc:id:giai:4000001.111", "time": "2026-11-02T10:00:00Z"},
				"sensorReport":   []any{map[string]any{"type": "Temperature", "value": 39.2, "uom": "FAH"}},
			}},
		}
		mut(e)
		b, _ := json.Marshal(e)
		return b
	}
	cmds, refusals, err := ids.Capture(event(func(map[string]any) {}), "SHP-2", now)
	if err != nil || len(refusals) > 0 || len(cmds) != 1 || cmds[0].Readings[0].Celsius != 4 || cmds[0].Readings[0].SensorID != "urn:epc:id:giai:4000001.111" {
		t.Fatalf("a single sensor event in °F: %+v %+v %v", cmds, refusals, err)
	}
	report := func(r map[string]any) func(map[string]any) {
		return func(e map[string]any) {
			e["sensorElementList"].([]any)[0].(map[string]any)["sensorReport"] = []any{r}
		}
	}
	for _, c := range []struct {
		name string
		mut  func(map[string]any)
		want string
	}{
		{"no eventID", func(e map[string]any) { delete(e, "eventID") }, "eventID is required"},
		{"aggregation", func(e map[string]any) {
			e["type"], e["parentID"], e["action"] = "AggregationEvent", "urn:epc:id:sscc:4012345.0000000001", "ADD"
			e["childQuantityList"] = e["quantityList"]
			delete(e, "quantityList")
			delete(e, "sensorElementList")
		}, "only ObjectEvents"},
		{"other step", func(e map[string]any) { e["bizStep"] = "inspecting"; delete(e, "sensorElementList") }, "bizStep inspecting has no contract operation"},
		{"humidity", report(map[string]any{"type": "RelativeHumidity", "value": 40, "uom": "P1"}), "type RelativeHumidity is not recorded"},
		{"summary", report(map[string]any{"type": "Temperature", "minValue": 2, "maxValue": 5, "uom": "CEL"}), "no value"},
		{"unit", report(map[string]any{"type": "Temperature", "value": 4, "uom": "KGM"}), "uom KGM"},
		{"stranger", func(e map[string]any) {
			e["bizStep"] = "accepting"
			delete(e, "sensorElementList")
			e["destinationList"] = []any{map[string]any{"type": "possessing_party", "destination": "https://id.gs1.org/417/9999999999994"}}
		}, "is not a member"},
		{"sensor data on shipping", func(e map[string]any) { e["bizStep"] = "shipping" }, "send sensor data in its own"},
	} {
		_, refusals, err := ids.Capture(event(c.mut), "SHP-2", now)
		if err != nil || len(refusals) != 1 || refusals[0].Index != 0 || !strings.Contains(refusals[0].Reason, c.want) {
			t.Errorf("%s: %+v %v, want a refusal with %q", c.name, refusals, err, c.want)
		}
	}
	// Without a target and a shipment in the event.
	if _, refusals, _ := ids.Capture(event(func(map[string]any) {}), "", now); len(refusals) != 1 || !strings.Contains(refusals[0].Reason, "names no shipment") {
		t.Errorf("no shipment: %+v", refusals)
	}
	// Schema violations are not mapped at all.
	var se *SchemaError
	if _, _, err := ids.Capture(event(func(e map[string]any) { e["eventTime"] = "yesterday" }), "SHP-2", now); !errors.As(err, &se) {
		t.Errorf("bad time: %v", err)
	}
	if _, _, err := ids.Capture(event(func(e map[string]any) { delete(e, "@context") }), "SHP-2", now); !errors.As(err, &se) {
		t.Errorf("single event without @context: %v", err)
	}
	// The same eventID twice in one document.
	one := json.RawMessage(event(func(e map[string]any) {}))
	doc, _ := json.Marshal(map[string]any{"@context": []any{ContextURL}, "type": "EPCISDocument", "schemaVersion": "2.0",
		"creationDate": "2026-11-02T10:00:00Z", "epcisBody": map[string]any{"eventList": []any{one, one}}})
	if _, refusals, _ := ids.Capture(doc, "SHP-2", now); len(refusals) != 1 || refusals[0].Index != 1 || !strings.Contains(refusals[0].Reason, "repeats event 0") {
		t.Errorf("repeat: %+v", refusals)
	}
}

func TestPartyURIsMapBackToMembers(t *testing.T) {
	for uri, want := range map[string]string{
		"https://id.gs1.org/417/4012345000009": "ExporterMSP",
		"urn:epc:id:pgln:4012345.00000":        "ExporterMSP",
		"urn:epc:id:pgln:409876.500000":        "RetailerMSP",
		"urn:shiptrace:party:CarrierMSP":       "CarrierMSP",
		"https://id.gs1.org/417/9999999999994": "",
		"urn:epc:id:pgln:4012345.0000":         "",
	} {
		if got, ok := ids.MSPOf(uri); got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", uri, got, ok, want)
		}
	}
}
