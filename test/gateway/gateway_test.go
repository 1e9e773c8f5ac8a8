// Package gateway_test runs the REST gateway, in process, against the real
// local Fabric network: the whole shipment life cycle through HTTP with the
// three members' keys, refusals, idempotency across restarts, pagination,
// async writes and failover to a second peer.
package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/epcis"
	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/gateway/journal"
	"github.com/shiptrace/shiptrace/test/testnet"
)

var orgs = map[string]string{"exporter": "ExporterMSP", "carrier": "CarrierMSP", "retailer": "RetailerMSP"}

func keyOf(name string) string { return "test-key-for-" + name + "-0123456789" }

// members are the three organisations' User1 from the profile; mutate lets
// a test change the peers (failover).
func members(t testing.TB, p *fabric.Profile, mutate func(*fabric.Member)) []fabric.Member {
	t.Helper()
	var out []fabric.Member
	for name, msp := range orgs {
		org, err := p.Org(msp)
		if err != nil {
			t.Fatal(err)
		}
		u, err := org.User("User1")
		if err != nil {
			t.Fatal(err)
		}
		m := fabric.Member{Name: name, MSPID: msp, User: u, Peers: org.Peers}
		if mutate != nil {
			mutate(&m)
		}
		out = append(out, m)
	}
	return out
}

// gateway is one running gateway process, in miniature.
type gateway struct {
	t       testing.TB
	URL     string
	ledger  api.Ledger
	client  *fabric.Client
	journal *journal.Journal
	srv     *api.Server
	http    *httptest.Server
	reg     *prometheus.Registry
}

type gatewayOpts struct {
	journalPath string
	mutate      func(*fabric.Member)
	wrap        func(api.Ledger) api.Ledger
	logs        io.Writer
	limits      api.Limits // zero: every fair-use limit off
	epcis       epcis.Identifiers
}

// clientOptions are the Fabric adapter's settings of the in-process gateway,
// also used by whatever a test compares the gateway with, so both retry and
// time out alike.
func clientOptions(net *testnet.Network, log *slog.Logger, reg prometheus.Registerer) fabric.Options {
	return fabric.Options{
		Channel: net.Profile.Channel, Chaincode: net.Profile.Chaincode, Logger: log, Registerer: reg,
		EndorseTimeout: 20 * time.Second, CommitTimeout: 30 * time.Second,
	}
}

func startGateway(t testing.TB, net *testnet.Network, o gatewayOpts) *gateway {
	t.Helper()
	if o.journalPath == "" {
		o.journalPath = filepath.Join(t.TempDir(), "journal.db")
	}
	if o.logs == nil {
		o.logs = io.Discard
	}
	log := slog.New(slog.NewJSONHandler(o.logs, nil))
	reg := prometheus.NewRegistry()
	client, err := fabric.Open(members(t, net.Profile, o.mutate), clientOptions(net, log, reg))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(o.journalPath, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []api.Key
	for name, msp := range orgs {
		keys = append(keys, api.Key{Name: name, Hash: sha256.Sum256([]byte(keyOf(name))), Identity: name, MSPID: msp})
	}
	var ledger api.Ledger = client
	if o.wrap != nil {
		ledger = o.wrap(client)
	}
	srv, err := api.New(api.Options{Ledger: ledger, Journal: j, Keys: keys, Logger: log, Registry: reg,
		CommitTimeout: time.Minute, SettleAfter: time.Minute, Limits: o.limits, EPCIS: o.epcis})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, ledger: ledger, client: client, journal: j, srv: srv, reg: reg, http: httptest.NewServer(srv.Handler())}
	g.URL = g.http.URL
	t.Cleanup(g.stop)
	return g
}

// stop shuts down like the command does: HTTP first, then async followers,
// then the journal and the connections.
func (g *gateway) stop() {
	if g.http == nil {
		return
	}
	g.http.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = g.srv.Close(ctx)
	_ = g.journal.Close()
	_ = g.client.Close()
	g.http = nil
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func (g *gateway) call(method, path, who string, body any, headers ...string) resp {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			g.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+keyOf(who))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (g *gateway) must(want int, method, path, who string, body any, headers ...string) resp {
	g.t.Helper()
	r := g.call(method, path, who, body, headers...)
	if r.Status != want {
		g.t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, who, r.Status, want, r.Body)
	}
	return r
}

type shipmentView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Custodian string `json:"custodian"`
	UpdatedTx string `json:"updatedTx"`
	ColdChain struct {
		State string `json:"state"`
		Count int    `json:"count"`
	} `json:"coldChain"`
	Settlement      json.RawMessage `json:"settlement"`
	HasBuyerContact bool            `json:"hasBuyerContact"`
	Version         int64           `json:"version"`
}

// receipt is a write's answer: the transaction, the contract's receipt
// (result) and, asked for with withRecord, the record.
type receipt struct {
	Transaction struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		BlockNumber uint64 `json:"blockNumber"`
	} `json:"transaction"`
	Result struct {
		ShipmentID  string `json:"shipmentId"`
		Status      string `json:"status"`
		Version     int64  `json:"version"`
		TxID        string `json:"txId"`
		BlockNumber uint64 `json:"blockNumber"`
		Readings    int    `json:"readings"`
		Duplicate   bool   `json:"duplicate"`
	} `json:"result"`
	Shipment     *shipmentView `json:"shipment"`
	BuyerContact *struct {
		Stored bool `json:"stored"`
	} `json:"buyerContact"`
}

// withRecord is the header pair that asks a write for the whole record.
var withRecord = []string{"Prefer", "return=representation"}

// record decodes a write's answer that was asked for the record, and checks
// the gateway says it applied the preference and the record is the version
// the write left (or a later one).
func (r resp) record(t testing.TB) receipt {
	t.Helper()
	var rc receipt
	r.json(t, &rc)
	if rc.Shipment == nil || r.Header.Get("Preference-Applied") != "return=representation" || rc.Shipment.Version < rc.Result.Version {
		t.Fatalf("asked for the record, got Preference-Applied %q: %s", r.Header.Get("Preference-Applied"), r.Body)
	}
	return rc
}

func newShipment(id string) map[string]any {
	return map[string]any{
		"id": id, "buyer": "RetailerMSP", "carrier": "CarrierMSP", "buyerRef": "PO-" + id,
		"product":     map[string]any{"sku": "COF-1", "lot": "L-42", "description": "Green coffee", "quantity": 100, "unit": "kg"},
		"origin":      map[string]any{"name": "Santos", "country": "BR"},
		"destination": map[string]any{"name": "Hamburg", "country": "DE"},
		"coldChain":   map[string]any{"minC": 2, "maxC": 8, "maxExcursionMinutes": 30},
		"terms": map[string]any{"currency": "EUR", "invoiceAmountMinor": 1_000_000, "latePenaltyBpsPerDay": 50,
			"latePenaltyCapBps": 1000, "breachRefundBps": 2000},
		"expectedDeliveryAt": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	}
}

func readings(start time.Time, n int, celsius float64) map[string]any {
	var rs []map[string]any
	for i := range n {
		rs = append(rs, map[string]any{"sensorId": "S1", "time": start.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339), "celsius": celsius})
	}
	return map[string]any{"readings": rs}
}

// get reads the shipment once every organisation's peer has committed the
// same latest change: a write answers after its own peer committed, and the
// other peers follow a moment later.
func (g *gateway) get(id string) shipmentView {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var views []shipmentView
		for name := range orgs {
			var s shipmentView
			g.must(200, "GET", "/v1/shipments/"+id, name, nil).json(g.t, &s)
			views = append(views, s)
		}
		if views[0].UpdatedTx == views[1].UpdatedTx && views[1].UpdatedTx == views[2].UpdatedTx {
			return views[0]
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("peers disagree on %s: %+v", id, views)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refused checks a call is answered 403 by the contract and changes nothing.
func (g *gateway) refused(method, path, who string, body any, id string) {
	g.t.Helper()
	before := g.get(id)
	r := g.must(403, method, path, who, body)
	var p api.Problem
	r.json(g.t, &p)
	if p.Code != "FORBIDDEN" || p.Detail == "" || r.Header.Get("Content-Type") != "application/problem+json" {
		g.t.Errorf("%s %s as %s: problem %+v", method, path, who, p)
	}
	if after := g.get(id); after.UpdatedTx != before.UpdatedTx || after.Status != before.Status {
		g.t.Errorf("%s %s as %s changed the ledger: %+v -> %+v", method, path, who, before, after)
	}
}

func TestShipmentLifecycleThroughHTTP(t *testing.T) {
	net := testnet.Require(t)
	var logs bytes.Buffer
	g := startGateway(t, net, gatewayOpts{logs: &logs})
	id := testnet.UniqueID("GW-LIFE")
	base := "/v1/shipments/" + id

	create := newShipment(id)
	create["buyerContact"] = map[string]any{"phone": "+4915123456789", "name": "Anna Schmidt", "language": "de", "consent": true}
	g.refused0(t, create) // retailer and carrier may create their own shipments, but not as the exporter of this one
	var r receipt
	cr := g.must(201, "POST", "/v1/shipments", "exporter", create)
	cr.json(t, &r)
	if r.Transaction.Status != "COMMITTED" || r.Transaction.BlockNumber == 0 || r.Result.Status != "CREATED" || r.Result.Version != 1 ||
		r.Result.ShipmentID != id || r.Result.TxID != r.Transaction.ID || r.Result.BlockNumber != r.Transaction.BlockNumber ||
		r.Shipment != nil || cr.Header.Get("Preference-Applied") != "" ||
		r.BuyerContact == nil || !r.BuyerContact.Stored || cr.Header.Get("Location") != base {
		t.Fatalf("create receipt %s: want the contract's receipt with the block, and no record", cr.Body)
	}
	g.must(409, "POST", "/v1/shipments", "exporter", newShipment(id))

	// The buyer contact: the exporter only.
	var contact map[string]any
	g.must(200, "GET", base+"/buyer-contact", "exporter", nil).json(t, &contact)
	if contact["phone"] != "+4915123456789" {
		t.Fatalf("contact %v", contact)
	}
	g.must(403, "GET", base+"/buyer-contact", "retailer", nil)

	g.refused("POST", base+"/ship", "carrier", nil, id)
	g.refused("POST", base+"/ship", "retailer", nil, id)
	g.must(200, "POST", base+"/documents", "exporter", map[string]any{"type": "certificate_of_origin", "sha256": strings.Repeat("ab", 32)})
	r = g.must(200, "POST", base+"/ship", "exporter", nil, withRecord...).record(t)
	if r.Shipment.Status != "SHIPPED" || r.Result.Status != "SHIPPED" || r.Result.Version != 3 || r.Shipment.UpdatedTx != r.Transaction.ID {
		t.Fatalf("after ship: %+v", r)
	}
	g.must(409, "POST", base+"/cancel", "exporter", map[string]any{"reason": "too late"})
	g.refused("POST", base+"/handover", "carrier", map[string]any{"toMSP": "CarrierMSP"}, id)
	r = receipt{}
	g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"}).json(t, &r)
	if r.Result.Status != "IN_TRANSIT" || r.Result.Version != 4 || r.Shipment != nil {
		t.Fatalf("after hand-over: %+v", r)
	}
	if s := g.get(id); s.Custodian != "CarrierMSP" || s.Version != 4 {
		t.Fatalf("after hand-over: %+v", s)
	}
	start := time.Now().Add(time.Second) // inside the carrier's custody, which began at the hand-over
	g.refused("POST", base+"/readings", "exporter", readings(start, 3, 4), id)
	r = g.must(200, "POST", base+"/readings", "carrier", readings(start, 3, 4), withRecord...).record(t)
	if r.Shipment.ColdChain.Count != 3 || r.Shipment.ColdChain.State != "OK" || r.Result.Readings != 3 || r.Result.Duplicate {
		t.Fatalf("after readings: %+v", r)
	}
	g.refused("POST", base+"/deliver", "carrier", nil, id)
	g.refused("POST", base+"/deliver", "exporter", nil, id)
	r = g.must(200, "POST", base+"/deliver", "retailer", nil, withRecord...).record(t)
	if r.Shipment.Status != "DELIVERED" || len(r.Shipment.Settlement) == 0 || r.Result.Version != 6 {
		t.Fatalf("after delivery: %+v", r)
	}
	g.must(409, "POST", base+"/reject", "retailer", map[string]any{"reason": "changed my mind"})

	var hist struct {
		Items []struct {
			TxID  string `json:"txId"`
			MSPID string `json:"mspId"`
		} `json:"items"`
	}
	g.must(200, "GET", base+"/history", "retailer", nil).json(t, &hist)
	var by []string
	for _, h := range hist.Items {
		by = append(by, h.MSPID)
	}
	if strings.Join(by, ",") != "RetailerMSP,CarrierMSP,ExporterMSP,ExporterMSP,ExporterMSP,ExporterMSP" {
		t.Errorf("history (newest first) by %v", by)
	}
	g.must(200, "DELETE", base+"/buyer-contact", "exporter", nil)
	g.must(404, "GET", base+"/buyer-contact", "exporter", nil)
	g.must(404, "GET", "/v1/shipments/"+testnet.UniqueID("GW-NONE"), "exporter", nil)
	if strings.Contains(logs.String(), "4915123456789") || strings.Contains(logs.String(), "Anna Schmidt") {
		t.Error("the buyer contact reached the log")
	}
}

// refused0: creating a shipment is open to every member, each as its own
// exporter; the gateway must not let a key act as another organisation.
func (g *gateway) refused0(t *testing.T, create map[string]any) {
	t.Helper()
	bad := map[string]any{}
	for k, v := range create {
		bad[k] = v
	}
	bad["buyer"] = "CarrierMSP" // the carrier would be its own buyer
	bad["carrier"] = "ExporterMSP"
	r := g.must(422, "POST", "/v1/shipments", "carrier", bad)
	var p api.Problem
	r.json(t, &p)
	if p.Code != "INVALID" {
		t.Errorf("problem %+v", p)
	}
}

// TestIdempotentRetriesAcrossRestarts: a create and a reading batch, each
// retried with the same key after the gateway restarted, are recorded once.
func TestIdempotentRetriesAcrossRestarts(t *testing.T) {
	net := testnet.Require(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	g := startGateway(t, net, gatewayOpts{journalPath: path})
	id := testnet.UniqueID("GW-IDEM")
	base := "/v1/shipments/" + id
	createKey, batchKey := "create-"+id, "batch-"+id

	create := newShipment(id)
	first := g.must(201, "POST", "/v1/shipments", "exporter", create, "Idempotency-Key", createKey)
	g.must(200, "POST", base+"/ship", "exporter", nil)
	g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
	batch := readings(time.Now().Add(time.Second), 50, 5)
	b1 := g.must(200, "POST", base+"/readings", "carrier", batch, "Idempotency-Key", batchKey)

	g.stop()
	g = startGateway(t, net, gatewayOpts{journalPath: path})
	again := g.must(201, "POST", "/v1/shipments", "exporter", create, "Idempotency-Key", createKey)
	if !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create replay after restart differs:\n%s\n%s", first.Body, again.Body)
	}
	b2 := g.must(200, "POST", base+"/readings", "carrier", batch, "Idempotency-Key", batchKey)
	if !bytes.Equal(b1.Body, b2.Body) {
		t.Fatalf("batch replay differs")
	}
	if s := g.get(id); s.ColdChain.Count != 50 {
		t.Fatalf("%d readings recorded, want 50", s.ColdChain.Count)
	}
	// A different body under the same key is refused.
	g.must(422, "POST", base+"/readings", "carrier", readings(time.Now().Add(time.Second), 2, 5), "Idempotency-Key", batchKey)
}

// lostCommit is a ledger whose writes commit on the network but whose
// gateway "dies" before it learns the outcome: Wait reports an unknown
// commit status after the real commit.
type lostCommit struct{ api.Ledger }

func (l lostCommit) Start(ctx context.Context, req fabric.Request) (fabric.Submission, error) {
	s, err := l.Ledger.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	return lostSub{s}, nil
}

type lostSub struct{ fabric.Submission }

func (s lostSub) Wait(ctx context.Context) (fabric.Committed, error) {
	c, err := s.Submission.Wait(ctx)
	if err != nil {
		return c, err
	}
	return fabric.Committed{}, &fabric.Error{Stage: fabric.StageCommitStatus, TxID: c.TxID, Retryable: true, MayHaveCommitted: true,
		Err: fmt.Errorf("connection lost before the commit status arrived")}
}

// TestRetryAfterALostCommitIsSettledFromTheLedger: the batch committed but
// the gateway never answered; after a restart the retry is answered from
// the ledger (qscc), and the readings are recorded once.
func TestRetryAfterALostCommitIsSettledFromTheLedger(t *testing.T) {
	net := testnet.Require(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	g := startGateway(t, net, gatewayOpts{journalPath: path})
	id := testnet.UniqueID("GW-LOST")
	base := "/v1/shipments/" + id
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	g.must(200, "POST", base+"/ship", "exporter", nil)
	g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
	g.stop()

	g = startGateway(t, net, gatewayOpts{journalPath: path, wrap: func(l api.Ledger) api.Ledger { return lostCommit{l} }})
	batch := readings(time.Now().Add(time.Second), 20, 5)
	lost := g.must(503, "POST", base+"/readings", "carrier", batch, "Idempotency-Key", "lost-"+id)
	var p api.Problem
	lost.json(t, &p)
	if p.TxID == "" || lost.Header.Get("Retry-After") == "" {
		t.Fatalf("lost commit problem %s", lost.Body)
	}
	g.stop()

	g = startGateway(t, net, gatewayOpts{journalPath: path})
	var r receipt
	g.must(200, "POST", base+"/readings", "carrier", batch, "Idempotency-Key", "lost-"+id).json(t, &r)
	if r.Transaction.ID != p.TxID || r.Transaction.BlockNumber == 0 || r.Result.TxID != p.TxID || r.Result.Readings != 20 ||
		r.Result.BlockNumber != r.Transaction.BlockNumber {
		t.Fatalf("settled receipt %+v, want tx %s and the contract's receipt from the block", r, p.TxID)
	}
	if s := g.get(id); s.ColdChain.Count != 20 {
		t.Fatalf("%d readings, want 20", s.ColdChain.Count)
	}
	// The transaction endpoint knows it too, from the ledger, and shows it
	// to the carrier that signed it, not to another organisation.
	var tx struct {
		Status      string `json:"status"`
		BlockNumber uint64 `json:"blockNumber"`
	}
	g.must(200, "GET", "/v1/transactions/"+p.TxID, "carrier", nil).json(t, &tx)
	if tx.Status != "COMMITTED" || tx.BlockNumber != r.Transaction.BlockNumber {
		t.Errorf("transaction %+v", tx)
	}
	g.must(404, "GET", "/v1/transactions/"+p.TxID, "retailer", nil)
}

func TestPaginationOverMoreThanOnePage(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	id := testnet.UniqueID("GW-PAGE")
	base := "/v1/shipments/" + id
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	g.must(200, "POST", base+"/ship", "exporter", nil)
	g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
	start := time.Now().Add(time.Second).Truncate(time.Second) // inside the carrier's custody
	for i := range 3 {
		g.must(200, "POST", base+"/readings", "carrier", readings(start.Add(time.Duration(i)*100*time.Second), 100, 5))
	}
	var all []time.Time
	pages := 0
	path := base + "/readings?pageSize=120"
	for {
		var pg struct {
			Items []struct {
				Time time.Time `json:"time"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		r := g.must(200, "GET", path, "retailer", nil)
		r.json(t, &pg)
		pages++
		for _, it := range pg.Items {
			all = append(all, it.Time)
		}
		if pg.NextCursor == "" {
			break
		}
		if !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
			t.Error("no Link to the next page")
		}
		path = base + "/readings?pageSize=120&cursor=" + urlQuery(pg.NextCursor)
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if len(all) != 300 || pages < 3 {
		t.Fatalf("%d readings in %d pages, want 300 in 3", len(all), pages)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Before(all[i-1]) {
			t.Fatalf("reading %d out of time order", i)
		}
	}
	// Shipments: pages of two, no item twice.
	seen := map[string]bool{}
	path = "/v1/shipments?pageSize=2&exporter=ExporterMSP"
	for p := 0; p < 3; p++ {
		var pg struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		g.must(200, "GET", path, "carrier", nil).json(t, &pg)
		for _, it := range pg.Items {
			if seen[it.ID] {
				t.Fatalf("%s on two pages", it.ID)
			}
			seen[it.ID] = true
		}
		if pg.NextCursor == "" {
			break
		}
		path = "/v1/shipments?pageSize=2&exporter=ExporterMSP&cursor=" + urlQuery(pg.NextCursor)
	}
	if len(seen) < 3 {
		t.Errorf("only %d shipments over the pages", len(seen))
	}
}

func TestAsyncReadingUpload(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	id := testnet.UniqueID("GW-ASYNC")
	base := "/v1/shipments/" + id
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	g.must(200, "POST", base+"/ship", "exporter", nil)
	g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
	var r receipt
	acc := g.must(202, "POST", base+"/readings", "carrier", readings(time.Now().Add(time.Second), 10, 5), "Prefer", "respond-async")
	acc.json(t, &r)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var tx struct {
			Status      string `json:"status"`
			BlockNumber uint64 `json:"blockNumber"`
		}
		g.must(200, "GET", acc.Header.Get("Location"), "carrier", nil).json(t, &tx)
		if tx.Status == "COMMITTED" && tx.BlockNumber > 0 {
			break
		}
		if tx.Status == "FAILED" || time.Now().After(deadline) {
			t.Fatalf("transaction %s: %+v", r.Transaction.ID, tx)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := g.get(id); s.ColdChain.Count != 10 {
		t.Fatalf("%d readings", s.ColdChain.Count)
	}
	// Only the carrier sees its transaction.
	g.must(404, "GET", acc.Header.Get("Location"), "exporter", nil)
	// Refusals are immediate, not deferred to the status.
	g.must(403, "POST", base+"/readings", "retailer", readings(time.Now().Add(time.Second), 1, 5), "Prefer", "respond-async")
}

// TestFailoverToAnotherPeer: each organisation's first configured peer is a
// dead endpoint; requests still succeed through the second.
func TestFailoverToAnotherPeer(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{mutate: func(m *fabric.Member) {
		dead := m.Peers[0]
		dead.Name, dead.Endpoint = "dead", "127.0.0.1:1"
		m.Peers = append([]fabric.Peer{dead}, m.Peers...)
	}})
	id := testnet.UniqueID("GW-FAIL")
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	g.must(200, "GET", "/v1/shipments/"+id, "retailer", nil)
	if r := g.call("GET", "/readyz", "exporter", nil); r.Status != 200 {
		t.Fatalf("readyz %d %s", r.Status, r.Body)
	}
}

func TestReadinessAndMetrics(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	g.must(200, "GET", "/readyz", "", nil)
	g.must(404, "GET", "/v1/shipments/"+testnet.UniqueID("GW-NONE"), "exporter", nil)
	g.must(401, "GET", "/metrics", "", nil)
	m := g.must(200, "GET", "/metrics", "exporter", nil)
	for _, want := range []string{"shiptrace_gateway_fabric_call_duration_seconds", `outcome="refused"`, "shiptrace_gateway_http_requests_total"} {
		if !bytes.Contains(m.Body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

// Each member reads and acts right after another member's write committed:
// the gateway must not answer from a peer one block behind (a commit status
// comes from the submitting member's peer only, and each member's requests go
// to its own peer). A read as the next member must already show the write.
func TestMembersReadEachOthersWritesAtOnce(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	defer g.stop()
	expect := func(id, who, status, custodian string) {
		t.Helper()
		var s shipmentView
		g.must(200, "GET", "/v1/shipments/"+id, who, nil).json(t, &s)
		if s.Status != status || s.Custodian != custodian {
			t.Fatalf("%s reads %s as %s/%s right after the write, want %s/%s", who, id, s.Status, s.Custodian, status, custodian)
		}
	}
	for i := 0; i < 10; i++ {
		id := testnet.UniqueID("GW-RYW")
		base := "/v1/shipments/" + id
		g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
		expect(id, "retailer", "CREATED", "ExporterMSP")
		g.must(200, "POST", base+"/ship", "exporter", nil)
		expect(id, "carrier", "SHIPPED", "ExporterMSP")
		g.must(200, "POST", base+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
		expect(id, "retailer", "IN_TRANSIT", "CarrierMSP")
		g.must(200, "POST", base+"/handover", "carrier", map[string]any{"toMSP": "RetailerMSP"})
		g.must(200, "POST", base+"/deliver", "retailer", nil)
		expect(id, "exporter", "DELIVERED", "RetailerMSP")
	}
}
