package gateway_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/test/testnet"
)

type historyPage struct {
	Items []struct {
		TxID     string       `json:"txId"`
		MSPID    string       `json:"mspId"`
		Shipment shipmentView `json:"shipment"`
	} `json:"items"`
	NextCursor string `json:"nextCursor"`
}

// inTransitWithVersions creates a shipment, hands it to the carrier and
// records single-reading batches, each from a new logger, until it has n
// versions (a batch is a version of the record when it registers a
// sensor); it returns the time after the last reading, for more.
func (g *gateway) inTransitWithVersions(t *testing.T, id string, n int) time.Time {
	t.Helper()
	base := "/v1/shipments/" + id
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	g.must(200, "POST", base+"/ship", "exporter", nil)
	g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
	at := time.Now().Add(time.Second).Truncate(time.Second) // inside the carrier's custody
	for v := 4; v <= n; v++ {
		var r receipt
		g.must(200, "POST", base+"/readings", "carrier", loggerBatch(fmt.Sprintf("V%d", v), at, 1, time.Second, 5)).json(t, &r)
		if r.Result.Version != int64(v) {
			t.Fatalf("batch for version %d answered version %d", v, r.Result.Version)
		}
		at = at.Add(time.Second)
	}
	return at
}

// TestHistoryPagesOverManyVersions pages a shipment's history through REST,
// newest first, with a write between two pages: every version once, none
// missing, and the cursor of another shipment or a made-up one refused.
func TestHistoryPagesOverManyVersions(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	id, other := testnet.UniqueID("GW-HIST"), testnet.UniqueID("GW-HIST")
	const versions = 40
	at := g.inTransitWithVersions(t, id, versions)
	g.inTransitWithVersions(t, other, 4)
	base := "/v1/shipments/" + id

	var got []int64
	txs := map[string]bool{}
	path, pages := base+"/history?pageSize=7", 0
	for {
		var p historyPage
		r := g.must(200, "GET", path, "retailer", nil)
		r.json(t, &p)
		pages++
		for _, e := range p.Items {
			if txs[e.TxID] || e.TxID != e.Shipment.UpdatedTx {
				t.Fatalf("entry tx %s (seen before: %v), its record's tx %s", e.TxID, txs[e.TxID], e.Shipment.UpdatedTx)
			}
			txs[e.TxID] = true
			got = append(got, e.Shipment.Version)
		}
		if pages == 1 {
			// A write after the first page: it must not shift the pages
			// that follow.
			g.must(200, "POST", base+"/readings", "carrier", loggerBatch("V-between", at, 1, time.Second, 5))
		}
		if p.NextCursor == "" {
			if r.Header.Get("Link") != "" {
				t.Errorf("a Link on the last page: %s", r.Header.Get("Link"))
			}
			break
		}
		if len(p.Items) != 7 || !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("page %d: %d items, Link %q", pages, len(p.Items), r.Header.Get("Link"))
		}
		path = base + "/history?pageSize=7&cursor=" + urlQuery(p.NextCursor)
		if pages > versions {
			t.Fatal("pagination does not end")
		}
	}
	want := make([]int64, 0, versions)
	for v := int64(versions); v >= 1; v-- {
		want = append(want, v)
	}
	if !slices.Equal(got, want) || pages != 6 {
		t.Fatalf("%d pages of versions %v, want 6 pages of %d down to 1", pages, got, versions)
	}
	var fresh historyPage
	g.must(200, "GET", base+"/history?pageSize=1", "carrier", nil).json(t, &fresh)
	if len(fresh.Items) != 1 || fresh.Items[0].Shipment.Version != versions+1 {
		t.Fatalf("a fresh read starts at %+v, want version %d", fresh.Items, versions+1)
	}

	var otherPage historyPage
	g.must(200, "GET", "/v1/shipments/"+other+"/history?pageSize=2", "retailer", nil).json(t, &otherPage)
	cursor := func(bookmark string) string { return base64.RawURLEncoding.EncodeToString([]byte(bookmark)) }
	for _, c := range []struct {
		name, query string
		status      int
	}{
		{"page size 0", "pageSize=0", 400},
		{"page size over 100", "pageSize=101", 400},
		{"a cursor that is not base64", "cursor=%21%21", 400},
		{"a made-up bookmark", "cursor=" + cursor("h1.1."+strings.Repeat("ab", 32)), 422},
		{"another shipment's cursor", "cursor=" + otherPage.NextCursor, 422},
	} {
		r := g.must(c.status, "GET", base+"/history?"+c.query, "retailer", nil)
		var p api.Problem
		r.json(t, &p)
		if c.status == 422 && p.Code != "INVALID" {
			t.Errorf("%s: problem %+v, want the contract's INVALID", c.name, p)
		}
	}
}

// TestWriteAnswersAndTheirReplays: the default answer is the receipt; a
// replay with the same Idempotency-Key gets the first answer byte for byte
// whatever it prefers, and writes nothing; a batch sent again under a new
// key is recognised by the contract and changes no version.
func TestWriteAnswersAndTheirReplays(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	id := testnet.UniqueID("GW-RCPT")
	base := "/v1/shipments/" + id
	at := g.inTransitWithVersions(t, id, 3)

	doc := map[string]any{"type": "certificate_of_origin", "sha256": strings.Repeat("cd", 32)}
	first := g.must(200, "POST", base+"/documents", "exporter", doc, append([]string{"Idempotency-Key", "doc-" + id}, withRecord...)...)
	rc := first.record(t)
	again := g.must(200, "POST", base+"/documents", "exporter", doc, "Idempotency-Key", "doc-"+id, "Prefer", "return=minimal")
	if !bytes.Equal(again.Body, first.Body) || again.Header.Get("Preference-Applied") != "return=representation" ||
		again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay without the preference: %q %s\nfirst: %s", again.Header.Get("Preference-Applied"), again.Body, first.Body)
	}

	batch := loggerBatch("V-batch", at, 5, time.Second, 4) // a new logger: the batch is a version
	minimal := g.must(200, "POST", base+"/readings", "carrier", batch, "Idempotency-Key", "batch-"+id)
	var r receipt
	minimal.json(t, &r)
	if r.Shipment != nil || r.Result.Version != rc.Result.Version+1 || r.Result.Readings != 5 || r.Result.Duplicate ||
		len(minimal.Body) > 600 {
		t.Fatalf("the batch's receipt (%d bytes): %s", len(minimal.Body), minimal.Body)
	}
	replay := g.must(200, "POST", base+"/readings", "carrier", batch, append([]string{"Idempotency-Key", "batch-" + id}, withRecord...)...)
	if !bytes.Equal(replay.Body, minimal.Body) || replay.Header.Get("Preference-Applied") != "" {
		t.Fatalf("replay asking for the record: %q %s", replay.Header.Get("Preference-Applied"), replay.Body)
	}

	var dup receipt
	g.must(200, "POST", base+"/readings", "carrier", batch, "Idempotency-Key", "batch-again-"+id).json(t, &dup)
	if !dup.Result.Duplicate || dup.Result.Version != r.Result.Version || dup.Result.TxID == r.Result.TxID {
		t.Fatalf("the batch under a new key: %+v; want duplicate at version %d", dup.Result, r.Result.Version)
	}
	if s := g.get(id); s.Version != r.Result.Version || s.ColdChain.Count != 5 {
		t.Fatalf("record %+v: want version %d with 5 readings", s, r.Result.Version)
	}
	var hist historyPage
	g.must(200, "GET", base+"/history?pageSize=100", "retailer", nil).json(t, &hist)
	if n := len(hist.Items); int64(n) != r.Result.Version || hist.Items[0].TxID != r.Result.TxID {
		t.Fatalf("%d versions in the history, newest %s; want %d, newest %s", n, hist.Items[0].TxID, r.Result.Version, r.Result.TxID)
	}
}
