package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/shipment/plots"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// eudrPlots is a polygon plot in Côte d'Ivoire and a point plot in Brazil,
// with producer names unique to the run so the block scan cannot confuse
// them with another test's.
func eudrPlots(producer string) json.RawMessage {
	return json.RawMessage(`{"type":"FeatureCollection","features":[
{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-5.498765,6.801234],[-5.496765,6.801234],[-5.496765,6.803234],[-5.498765,6.803234],[-5.498765,6.801234]]]},
 "properties":{"producerName":"` + producer + ` Yao","productionPlace":"Daloa-` + producer + `","country":"CI","productionFrom":"2025-10-01","productionTo":"2026-02-28","commodity":"coffee","hsCode":"090111","quantityKg":1200,"areaHa":4.9}},
{"type":"Feature","geometry":{"type":"Point","coordinates":[-47.123987,-15.654987]},
 "properties":{"producerName":"` + producer + ` Souza","country":"BR","productionFrom":"2025-05-01","productionTo":"2025-08-31","commodity":"coffee","hsCode":"090111","quantityKg":800,"areaHa":1.5}}]}`)
}

// TestEUDRPlotsOnTheNetwork: the exporter attaches plots, the buyer reads
// them, the carrier and a non-party cannot; the public hash is the
// canonical GeoJSON's; the buyer records its due-diligence reference; the
// export is RFC 7946 GeoJSON (paulmach/orb) and byte-stable; no block holds
// a producer name, place or coordinate.
func TestEUDRPlotsOnTheNetwork(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	id := testnet.UniqueID("EUDR")
	producer := "Prod" + strings.ReplaceAll(id, "-", "")
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	P := "/v1/shipments/" + id
	g.must(200, "POST", P+"/ship", "exporter", nil)
	g.must(200, "POST", P+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})

	// A shipment the carrier has no part in.
	other := testnet.UniqueID("EUDR-NP")
	s := newShipment(other)
	delete(s, "carrier")
	g.must(201, "POST", "/v1/shipments", "exporter", s)

	input := eudrPlots(producer)
	want, err := plots.Decode(input)
	if err != nil {
		t.Fatal(err)
	}

	// Bad plots: a clear, feature-numbered refusal, nothing written.
	bad := json.RawMessage(strings.Replace(string(input), "[-47.123987,-15.654987]", "[-15.654987,-47.123987]", 1))
	r := g.must(422, "PUT", P+"/plots", "exporter", bad)
	if !strings.Contains(string(r.Body), "features[1].geometry.coordinates") || !strings.Contains(string(r.Body), "swapped") {
		t.Fatalf("refusal %s", r.Body)
	}
	g.must(404, "GET", P+"/plots", "retailer", nil)
	// Only the exporter attaches.
	g.must(403, "PUT", P+"/plots", "retailer", input)

	g.must(200, "PUT", P+"/plots", "exporter", input)
	g.must(200, "PUT", "/v1/shipments/"+other+"/plots", "exporter", input)

	// The public record: hash of the canonical GeoJSON, count, area,
	// countries; read by the carrier, which holds no plots.
	var pub struct {
		Plots struct {
			SHA256    string   `json:"sha256"`
			Count     int      `json:"count"`
			AreaHa    float64  `json:"areaHa"`
			Countries []string `json:"countries"`
		} `json:"plots"`
	}
	g.must(200, "GET", P, "carrier", nil).json(t, &pub)
	if pub.Plots.SHA256 != want.Hash() || pub.Plots.Count != 2 || strings.Join(pub.Plots.Countries, ",") != "BR,CI" || pub.Plots.AreaHa < 6.3 {
		t.Fatalf("public summary %+v, want hash %s", pub.Plots, want.Hash())
	}

	// Exporter and buyer read the TRACES export; it is the same bytes
	// every time and for both, and valid RFC 7946 GeoJSON.
	first := g.must(200, "GET", P+"/plots", "retailer", nil)
	if ct := first.Header.Get("Content-Type"); ct != "application/geo+json" {
		t.Fatalf("content type %q", ct)
	}
	for _, who := range []string{"retailer", "exporter"} {
		if again := g.must(200, "GET", P+"/plots", who, nil); !bytes.Equal(again.Body, first.Body) {
			t.Fatalf("export for %s not byte-stable:\n%s\n%s", who, first.Body, again.Body)
		}
	}
	exp, _ := want.Export()
	if !bytes.Equal(first.Body, exp) {
		t.Fatalf("export differs from the attached plots' export:\n%s\n%s", first.Body, exp)
	}
	fc, err := geojson.UnmarshalFeatureCollection(first.Body)
	if err != nil {
		t.Fatalf("export is not GeoJSON: %v", err)
	}
	if len(fc.Features) != 2 || fc.Features[0].Geometry.GeoJSONType() != "Polygon" || fc.Features[1].Geometry.GeoJSONType() != "Point" {
		t.Fatalf("features %+v", fc.Features)
	}
	poly := fc.Features[0].Geometry.(orb.Polygon)
	if ring := poly[0]; !ring.Closed() || ring.Orientation() != orb.CCW {
		t.Fatalf("exterior ring closed %v orientation %v, RFC 7946 wants closed and counter-clockwise", ring.Closed(), ring.Orientation())
	}
	if pt := fc.Features[1].Geometry.(orb.Point); pt.Lon() != -47.123987 || pt.Lat() != -15.654987 {
		t.Fatalf("point %v: not [lon, lat]", pt)
	}
	if fc.Features[0].Properties.MustString("ProducerName", "") != producer+" Yao" || fc.Features[1].Properties.MustString("ProducerCountry", "") != "BR" ||
		fc.Features[0].Properties.MustFloat64("Area", 0) != 4.9 {
		t.Fatalf("TRACES properties %v", fc.Features[0].Properties)
	}

	// The carrier (a party, holding the goods) and a non-party are refused
	// by the contract.
	g.must(403, "GET", P+"/plots", "carrier", nil)
	g.must(403, "GET", "/v1/shipments/"+other+"/plots", "carrier", nil)

	// The buyer records the due-diligence statement; any member reads it.
	g.must(403, "POST", P+"/due-diligence", "exporter", map[string]any{"referenceNumber": "25FRXVV3VOS991", "verificationNumber": "KJTS6TQ8"})
	g.must(200, "POST", P+"/due-diligence", "retailer", map[string]any{"referenceNumber": "25FRXVV3VOS991", "verificationNumber": "KJTS6TQ8"})
	var dds struct {
		DueDiligence struct {
			Reference    string `json:"referenceNumber"`
			Verification string `json:"verificationNumber"`
			RecordedBy   string `json:"recordedBy"`
		} `json:"dueDiligence"`
	}
	g.must(200, "GET", P, "carrier", nil).json(t, &dds)
	if dds.DueDiligence.Reference != "25FRXVV3VOS991" || dds.DueDiligence.Verification != "KJTS6TQ8" || dds.DueDiligence.RecordedBy != "RetailerMSP" {
		t.Fatalf("due diligence %+v", dds.DueDiligence)
	}

	// No block holds a producer name, place or coordinate; the shipment's
	// ID (a positive control) is there.
	secrets := []string{producer, "Daloa-" + producer, "-5.498765", "6.801234", "-47.123987", "-15.654987", "5.498765", "47.123987"}
	found, blocks := net.ScanBlocks(t, append([]string{id}, secrets...))
	if len(found) == 0 || found[0] != id {
		t.Fatalf("block scan did not find the shipment %s: the scan is broken", id)
	}
	if len(found) > 1 {
		t.Fatalf("found in blocks: %v", found[1:])
	}
	t.Logf("scanned %d blocks: no producer name, place or coordinate", blocks)

	// Erasure purges both private copies; the public summary stays.
	g.must(403, "DELETE", P+"/plots", "retailer", nil)
	g.must(200, "DELETE", P+"/plots", "exporter", nil)
	g.must(404, "GET", P+"/plots", "retailer", nil)
	g.must(404, "GET", P+"/plots", "exporter", nil)
	var erased struct {
		Plots struct {
			Count  int  `json:"count"`
			Erased bool `json:"erased"`
		} `json:"plots"`
	}
	g.must(200, "GET", P, "carrier", nil).json(t, &erased)
	if !erased.Plots.Erased || erased.Plots.Count != 2 {
		t.Fatalf("after erasure %+v", erased.Plots)
	}
}

// BenchmarkAttach10000Plots attaches a cooperative's delivery, 10,000
// polygon plots, in one request and prints the time, the request size and
// what the transaction adds to its block (the plots stay in the private
// stores; the block carries their hashes). Prints, never asserts.
// Run: go test -run XXX -bench Attach10000Plots -benchtime 1x ./test/gateway/
func BenchmarkAttach10000Plots(b *testing.B) {
	net := testnet.Require(b)
	g := startGateway(b, net, gatewayOpts{})
	body := coopPlots(10000)
	for i := 0; i < b.N; i++ {
		id := testnet.UniqueID("EUDR-BENCH")
		g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
		began := time.Now()
		r := g.must(200, "PUT", "/v1/shipments/"+id+"/plots", "exporter", body)
		took := time.Since(began)
		var rc receipt
		r.json(b, &rc)
		blockBytes := blockSize(b, net, rc.Transaction.BlockNumber)
		began = time.Now()
		exp := g.must(200, "GET", "/v1/shipments/"+id+"/plots", "retailer", nil)
		read := time.Since(began)
		fmt.Printf("EUDR 10,000 plots: request %d bytes, attach %s, block %d (%d bytes with this transaction), export %d bytes in %s\n",
			len(body), took.Round(time.Millisecond), rc.Transaction.BlockNumber, blockBytes, len(exp.Body), read.Round(time.Millisecond))
	}
}

// coopPlots is n polygon plots of about 2 ha in Côte d'Ivoire, five
// vertices each.
func coopPlots(n int) json.RawMessage {
	var sb strings.Builder
	sb.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		lon, lat := -7.0+float64(i%100)*0.002, 6.0+float64(i/100)*0.002
		d := 0.0012
		fmt.Fprintf(&sb, `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f],[%.6f,%.6f]]]},"properties":{"producerName":"Member %05d","productionPlace":"Soubré","country":"CI","productionFrom":"2025-10-01","productionTo":"2026-03-31","commodity":"cocoa","hsCode":"180100","quantityKg":450,"areaHa":1.76}}`,
			lon, lat, lon+d, lat, lon+d, lat+d, lon, lat+d, lon, lat, i)
	}
	sb.WriteString(`]}`)
	return json.RawMessage(sb.String())
}

// blockSize is the marshalled size of block n.
func blockSize(t testing.TB, net *testnet.Network, n uint64) int {
	t.Helper()
	network := net.Gateway(t, "ExporterMSP").GetNetwork(net.Profile.Channel)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	events, err := network.BlockEvents(ctx, client.WithStartBlock(n))
	if err != nil {
		t.Fatalf("block events: %v", err)
	}
	for blk := range events {
		return proto.Size(blk)
	}
	t.Fatalf("block %d not delivered", n)
	return 0
}
