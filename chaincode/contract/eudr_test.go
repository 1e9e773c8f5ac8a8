package contract

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/shipment/plots"
)

// plotsGeoJSON is a polygon plot in Côte d'Ivoire and a point plot in
// Brazil; the producer names and coordinates must stay private.
const plotsGeoJSON = `{"type":"FeatureCollection","features":[
{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]]]},
 "properties":{"producerName":"Kouassi Yao","productionPlace":"Daloa","country":"CI","productionFrom":"2025-10-01","productionTo":"2026-02-28","commodity":"coffee","hsCode":"090111","quantityKg":1200,"areaHa":4.9}},
{"type":"Feature","geometry":{"type":"Point","coordinates":[-47.123456,-15.654321]},
 "properties":{"producerName":"Maria Aparecida","country":"BR","productionFrom":"2025-05-01","productionTo":"2025-08-31","commodity":"coffee","hsCode":"090111","quantityKg":800,"areaHa":1.5}}]}`

func plotsTransient() map[string][]byte {
	return map[string][]byte{TransientPlots: []byte(plotsGeoJSON)}
}

func TestPlotsArePrivateToExporterAndBuyer(t *testing.T) {
	w := newWorld(t)
	id := "SHP-EUDR-1"
	w.inTransit(id) // the carrier holds the goods: it still must not see plots

	res := w.invoke(call{msp: exporterMSP, fn: "AttachPlots", args: []string{id}, transient: plotsTransient()})
	if res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	priv := res.Stub.PrivateWrites()
	slices.Sort(priv)
	if !slices.Equal(priv, []string{"_implicit_org_ExporterMSP", "_implicit_org_RetailerMSP"}) {
		t.Fatalf("private writes %v; want the exporter's and the buyer's implicit collections", priv)
	}
	if len(res.Writes) != 1 || !strings.Contains(res.Writes[0], "eudr~plots") {
		t.Fatalf("public writes %v; want only the plots summary (not the shipment record the carrier endorses)", res.Writes)
	}
	// Nothing public (state, event) holds a producer name or a coordinate.
	for _, public := range []string{w.snapshot(), string(res.Event.Payload), string(res.Response.GetPayload())} {
		for _, secret := range []string{"Kouassi", "Maria Aparecida", "Daloa", "-5.5", "6.80", "-47.12", "-15.65"} {
			if strings.Contains(public, secret) {
				t.Fatalf("%q is public: %s", secret, public)
			}
		}
	}
	if res.Event.Name != string(shipment.EventPlotsAttached) {
		t.Fatalf("event %s", res.Event.Name)
	}

	col, err := plots.Decode([]byte(plotsGeoJSON))
	if err != nil {
		t.Fatal(err)
	}
	s := w.shipment(w.ok(carrierMSP, "ReadShipment", id))
	if s.Plots == nil || s.Plots.SHA256 != col.Hash() || s.Plots.Count != 2 || !slices.Equal(s.Plots.Countries, []string{"BR", "CI"}) {
		t.Fatalf("public summary %+v, want hash %s", s.Plots, col.Hash())
	}
	if s.Plots.AreaHa < 6.3 || s.Plots.AreaHa > 6.5 {
		t.Fatalf("total area %v", s.Plots.AreaHa)
	}

	for _, msp := range []string{exporterMSP, buyerMSP} {
		got := w.ok(msp, "Plots", id)
		if got != string(col.Canonical()) || plots.Hash([]byte(got)) != s.Plots.SHA256 {
			t.Fatalf("Plots by %s: %s", msp, got)
		}
	}
	w.refused(shipment.Forbidden, carrierMSP, "Plots", id)
	w.refused(shipment.Forbidden, buyer2MSP, "Plots", id)
	w.refusedCall(shipment.Forbidden, call{msp: buyerMSP, fn: "AttachPlots", args: []string{id}, transient: plotsTransient()})

	// Erasure purges both copies; the summary stays, marked erased.
	res = w.invoke(call{msp: exporterMSP, role: shipment.RoleAdmin, fn: "ErasePlots", args: []string{id}})
	if res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	for _, coll := range []string{"_implicit_org_ExporterMSP", "_implicit_org_RetailerMSP"} {
		if !w.ledger.Purged(coll, plotsKey(id)) {
			t.Fatalf("%s not purged", coll)
		}
	}
	w.refused(shipment.NotFound, buyerMSP, "Plots", id)
	if s := w.read(id); s.Plots == nil || !s.Plots.Erased || s.Plots.Count != 2 {
		t.Fatalf("summary after erasure %+v", s.Plots)
	}
}

func TestAttachPlotsRefusesBadInput(t *testing.T) {
	w := newWorld(t)
	id := "SHP-EUDR-2"
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	msg := w.refusedCall(shipment.Invalid, call{msp: exporterMSP, fn: "AttachPlots", args: []string{id}})
	if !strings.Contains(msg, "transient map") {
		t.Fatal(msg)
	}
	bad := strings.Replace(plotsGeoJSON, "2025-05-01", "2020-06-01", 1)
	msg = w.refusedCall(shipment.Invalid, call{msp: exporterMSP, fn: "AttachPlots", args: []string{id}, transient: map[string][]byte{TransientPlots: []byte(bad)}})
	if !strings.Contains(msg, "features[1].properties.productionFrom") {
		t.Fatal(msg)
	}
	w.refused(shipment.NotFound, exporterMSP, "Plots", id)
}

func TestDueDiligenceRecordedByBuyer(t *testing.T) {
	w := newWorld(t)
	id := "SHP-EUDR-3"
	w.inTransit(id)
	dds := `{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8"}`
	w.refused(shipment.Forbidden, exporterMSP, "RecordDueDiligence", id, dds)
	w.refused(shipment.Invalid, buyerMSP, "RecordDueDiligence", id, `{"referenceNumber":"x"}`)
	res := w.invoke(call{msp: buyerMSP, fn: "RecordDueDiligence", args: []string{id, dds}})
	if res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	var ev shipment.Event
	if err := json.Unmarshal(res.Event.Payload, &ev); err != nil || res.Event.Name != "eudr.dds_recorded" || ev.DueDiligence == nil || ev.DueDiligence.Reference != "25FRXVV3VOS991" {
		t.Fatalf("event %s %s", res.Event.Name, res.Event.Payload)
	}
	for _, msp := range []string{exporterMSP, carrierMSP, buyer2MSP} {
		s := w.shipment(w.ok(msp, "ReadShipment", id))
		if s.DueDiligence == nil || s.DueDiligence.Verification != "KJTS6TQ8" || s.DueDiligence.RecordedBy != buyerMSP {
			t.Fatalf("%s reads %+v", msp, s.DueDiligence)
		}
	}
}
