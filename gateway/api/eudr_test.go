package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment/plots"
)

func plotsBody(n int) string {
	var sb strings.Builder
	sb.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		lon, lat := -7.0+float64(i%100)*0.002, 6.0+float64(i/100)*0.002
		fmt.Fprintf(&sb, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},"properties":{"producerName":"Member %05d","country":"CI","productionFrom":"2025-10-01","productionTo":"2026-03-31","commodity":"cocoa","hsCode":"180100","quantityKg":450,"areaHa":1.5}}`, lon, lat, i)
	}
	sb.WriteString(`]}`)
	return sb.String()
}

func eudrLedger(stored *[]byte) *fakeLedger {
	return &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
		if req.Tx == "Plots" {
			return *stored, nil
		}
		return []byte(`{"id":"SHP-1","exporter":"ExporterMSP","buyer":"RetailerMSP"}`), nil
	}}
}

// TestPutPlotsSendsThemPrivately: the plots go in the transient map (never
// the arguments), canonical, to the exporter's and buyer's organisations
// only; the plots route takes bodies over the ordinary limit (64 KiB here).
func TestPutPlotsSendsThemPrivately(t *testing.T) {
	var stored []byte
	l := eudrLedger(&stored)
	h := newHarness(t, l)
	body := plotsBody(500) // ~120 kB
	if rec := h.do("PUT", "/v1/shipments/SHP-1/plots", body); rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	want, err := plots.Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var sub *fabric.Request
	for _, c := range l.Calls() {
		if c.Tx == "AttachPlots" {
			sub = &c
		}
	}
	if sub == nil || !slices.Equal(sub.Args, []string{"SHP-1"}) || string(sub.Transient["plots"]) != string(want.Canonical()) ||
		!slices.Equal(sub.EndorsingOrgs, []string{"ExporterMSP", "RetailerMSP"}) {
		t.Fatalf("submitted %+v", sub)
	}

	// A bad plot: 422 naming it, nothing submitted.
	n := len(l.Calls())
	bad := strings.Replace(body, "[-7.000000,6.000000]", "[-7.00000,6.000000]", 1)
	rec := h.do("PUT", "/v1/shipments/SHP-1/plots", bad)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "features[0].geometry.coordinates: -7.00000 has fewer than 6 decimal places") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(l.Calls()) != n {
		t.Fatal("a refused file reached the ledger")
	}

	// Over 25 MB: refused before parsing, with advice to split.
	huge := `{"type":"FeatureCollection","features":[` + strings.Repeat(" ", plots.MaxExportBytes) + `]}`
	rec = h.do("PUT", "/v1/shipments/SHP-1/plots", huge)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "split") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}

	// The export is the TRACES file, byte-stable.
	stored = want.Canonical()
	a := h.do("GET", "/v1/shipments/SHP-1/plots", "")
	b := h.do("GET", "/v1/shipments/SHP-1/plots", "")
	if a.Code != 200 || a.Header().Get("Content-Type") != "application/geo+json" || a.Body.String() != b.Body.String() ||
		!strings.Contains(a.Body.String(), `"ProducerName":"Member 00000","ProducerCountry":"CI"`) {
		t.Fatalf("%d %s %.200s", a.Code, a.Header(), a.Body)
	}
}

func TestDueDiligenceRoute(t *testing.T) {
	l := &fakeLedger{}
	h := newHarness(t, l)
	if rec := h.do("POST", "/v1/shipments/SHP-1/due-diligence", `{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8"}`); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	calls := l.Calls()
	if last := calls[len(calls)-1]; last.Tx != "RecordDueDiligence" || last.Args[1] != `{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8"}` {
		t.Fatalf("%+v", last)
	}
	if rec := h.do("POST", "/v1/shipments/SHP-1/due-diligence", `{"referenceNumber":"x","verificationNumber":"KJTS6TQ8"}`); rec.Code != 400 && rec.Code != 422 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
