package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/tracklink"
)

// TestPageCountsOpensOfLinksNamingTheirMessage: a page served for a link
// that names its message's template and variant is counted under them; a
// link without them and a refused link are not.
func TestPageCountsOpensOfLinksNamingTheirMessage(t *testing.T) {
	signer, _ := tracklink.New(secret)
	reg := prometheus.NewRegistry()
	pages, err := web.New(web.Options{Ledger: breachedShipment(2, 50), Identity: "exporter", Signer: signer,
		Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	pages.Mount(e)
	srv := httptest.NewServer(e)
	defer srv.Close()
	h := &harness{signer: signer, srv: srv, pages: pages}
	counted := h.token(t, tracklink.Claims{ShipmentID: shipID, Lang: "es", Template: "shipment_shipped_v2", Variant: "B"})
	plain := h.token(t, tracklink.Claims{ShipmentID: shipID})
	for _, path := range []string{"/track/" + counted, "/track/" + counted, "/track/" + plain, "/track/" + counted[:len(counted)-3] + "AAA"} {
		h.get(t, path)
	}
	if r := h.get(t, "/track/"+counted); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + " "
			}
			got = append(got, fmt.Sprintf("%s{%s} %v", mf.GetName(), labels, m.GetCounter().GetValue()))
		}
	}
	want := "shiptrace_gateway_track_opens_total{language=es template=shipment_shipped_v2 variant=B } 3"
	if len(got) != 1 || got[0] != want {
		t.Errorf("metrics %q, want only %q", got, want)
	}
}
