package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
)

// A capture that is not EPCIS, or that holds an event the contract has no
// operation for, is answered before anything reaches the ledger.
func TestEPCISCaptureRefusalsSubmitNothing(t *testing.T) {
	ledger := &fakeLedger{}
	h := newHarness(t, ledger)
	ld := withHeader("Content-Type", "application/ld+json")
	shipping := `{"type":"ObjectEvent","eventID":"urn:uuid:6a8c2d1e-9f3b-5c4d-8e7f-0a1b2c3d4e5f","action":"OBSERVE",
		"eventTime":"2026-11-23T09:00:00Z","eventTimeZoneOffset":"+00:00","bizStep":"shipping",
		"quantityList":[{"epcClass":"https://id.gs1.org/01/04006381333931/10/L-42"}]}`
	inspecting := strings.Replace(strings.Replace(shipping, `"shipping"`, `"inspecting"`, 1), "0a1b2c3d4e5f", "0a1b2c3d4e60", 1)
	doc := func(events ...string) string {
		return `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument",
			"schemaVersion":"2.0","creationDate":"2026-11-23T10:00:00Z","epcisBody":{"eventList":[` + strings.Join(events, ",") + `]}}`
	}

	rec := h.do("POST", "/v1/epcis/events?shipment=SHP-1", doc(shipping, inspecting), ld)
	p := problemOf(t, rec)
	if rec.Code != http.StatusUnprocessableEntity || p.Type != "urn:shiptrace:problem:epcis-event-refused" ||
		!strings.HasPrefix(p.Detail, "event 1 (urn:uuid:6a8c2d1e-9f3b-5c4d-8e7f-0a1b2c3d4e60): bizStep inspecting") || len(p.Errors) != 1 {
		t.Errorf("refused event: %d %+v", rec.Code, p)
	}
	rec = h.do("POST", "/v1/epcis/events?shipment=SHP-1", doc(`{"type":"ObjectEvent","action":"LOOK"}`), ld)
	if p := problemOf(t, rec); rec.Code != http.StatusBadRequest || len(p.Errors) == 0 {
		t.Errorf("schema: %d %+v", rec.Code, p)
	}
	rec = h.do("POST", "/v1/epcis/events?shipment=SHP-1", doc(shipping), withHeader("Content-Type", "text/plain"))
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", rec.Code)
	}
	if calls := ledger.Calls(); len(calls) != 0 {
		t.Errorf("the ledger was called: %+v", calls)
	}

	// A valid event reaches the ledger as Ship of the named shipment.
	rec = h.do("POST", "/v1/epcis/events?shipment=SHP-1", doc(shipping), ld)
	calls := ledger.Calls()
	if rec.Code != http.StatusOK || len(calls) != 1 || calls[0].Tx != "Ship" || calls[0].Args[0] != "SHP-1" {
		t.Fatalf("capture: %d %s, calls %+v", rec.Code, rec.Body, calls)
	}
	// Again: replayed from the journal, the ledger not called.
	rec = h.do("POST", "/v1/epcis/events?shipment=SHP-1", doc(shipping), ld)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"replayed":true`) || len(ledger.Calls()) != 1 {
		t.Fatalf("repeat: %d %s, %d calls", rec.Code, rec.Body, len(ledger.Calls()))
	}
}

func TestEPCISExportIsJSONLD(t *testing.T) {
	ledger := &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
		switch req.Tx {
		case "ShipmentHistory":
			return []byte(`{"items":[{"txId":"t1","time":"2026-11-23T09:00:00Z","mspId":"ExporterMSP","shipment":{"id":"SHP-1","exporter":"ExporterMSP",
				"buyer":"RetailerMSP","custodian":"ExporterMSP","status":"CREATED","product":{"sku":"COF-1","lot":"L-42","quantity":5,"unit":"bag"}}}],"bookmark":""}`), nil
		default:
			return []byte(`{"items":[],"bookmark":""}`), nil
		}
	}}
	h := newHarness(t, ledger)
	rec := h.do("GET", "/v1/shipments/SHP-1/epcis", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/ld+json" ||
		!strings.Contains(rec.Body.String(), `"bizStep":"commissioning"`) || !strings.Contains(rec.Body.String(), `urn:shiptrace:sku:ExporterMSP:COF-1:L-42`) {
		t.Fatalf("export: %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if rec := h.do("GET", "/v1/shipments/SHP-1/epcis?readings=some", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("readings=some: %d", rec.Code)
	}
}
