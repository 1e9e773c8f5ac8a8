package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/epcis"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// capture posts an EPCIS document of the given events as who.
func (g *gateway) capture(want int, who, target string, events []json.RawMessage) resp {
	g.t.Helper()
	doc := map[string]any{"@context": []any{epcis.ContextURL}, "type": "EPCISDocument", "schemaVersion": "2.0",
		"creationDate": time.Now().UTC().Format(time.RFC3339), "epcisBody": map[string]any{"eventList": events}}
	b, err := json.Marshal(doc)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.captureRaw(want, who, target, b)
}

func (g *gateway) captureRaw(want int, who, target string, body []byte) resp {
	g.t.Helper()
	path := "/v1/epcis/events"
	if target != "" {
		path += "?shipment=" + url.QueryEscape(target)
	}
	req, err := http.NewRequest("POST", g.URL+path, bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/ld+json")
	req.Header.Set("Authorization", "Bearer "+keyOf(who))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		g.t.Fatalf("capture as %s: %d, want %d: %s", who, res.StatusCode, want, b)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

type exportedEvent struct {
	raw       json.RawMessage
	EventID   string `json:"eventID"`
	BizStep   string `json:"bizStep"`
	EventTime time.Time
	Sensors   []struct {
		Reports []struct {
			Time  time.Time `json:"time"`
			Value float64   `json:"value"`
		} `json:"sensorReport"`
	} `json:"sensorElementList"`
}

// export reads a shipment's EPCIS document and checks it against GS1's schema.
func (g *gateway) export(id, who string) []exportedEvent {
	g.t.Helper()
	began := time.Now()
	r := g.must(200, "GET", "/v1/shipments/"+id+"/epcis", who, nil)
	g.t.Logf("export of %s: %d bytes in %s", id, len(r.Body), time.Since(began).Round(time.Millisecond))
	if ct := r.Header.Get("Content-Type"); ct != epcis.MediaType {
		g.t.Errorf("export content type %q", ct)
	}
	return g.events(r.Body)
}

func (g *gateway) events(body []byte) []exportedEvent {
	g.t.Helper()
	if err := epcis.Validate(body); err != nil {
		g.t.Fatalf("exported document: %v\n%s", err, body)
	}
	var doc struct {
		Body struct {
			EventList []json.RawMessage `json:"eventList"`
		} `json:"epcisBody"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		g.t.Fatal(err)
	}
	var out []exportedEvent
	for _, raw := range doc.Body.EventList {
		var e exportedEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			g.t.Fatal(err)
		}
		var t struct {
			EventTime time.Time `json:"eventTime"`
		}
		_ = json.Unmarshal(raw, &t)
		e.raw, e.EventTime = raw, t.EventTime
		out = append(out, e)
	}
	return out
}

func pick(events []exportedEvent, steps ...string) []json.RawMessage {
	var out []json.RawMessage
	for _, e := range events {
		if slices.Contains(steps, e.BizStep) {
			out = append(out, e.raw)
		}
	}
	return out
}

func ids(events []exportedEvent, steps ...string) string {
	var s []string
	for _, e := range events {
		if slices.Contains(steps, e.BizStep) {
			s = append(s, e.BizStep+"="+e.EventID)
		}
	}
	return strings.Join(s, ",")
}

func steps(events []exportedEvent) string {
	var s []string
	for _, e := range events {
		s = append(s, e.BizStep)
	}
	return strings.Join(s, ",")
}

type custodyView struct {
	Custody []struct {
		Holder string `json:"holder"`
	} `json:"custody"`
	Status  string `json:"status"`
	Version int64  `json:"version"`
}

func (g *gateway) custody(id string) (string, custodyView) {
	g.t.Helper()
	var v custodyView
	g.must(200, "GET", "/v1/shipments/"+id, "retailer", nil).json(g.t, &v)
	var h []string
	for _, p := range v.Custody {
		h = append(h, p.Holder)
	}
	return strings.Join(h, ">"), v
}

func (g *gateway) readingsOf(id string) []string {
	g.t.Helper()
	var p struct {
		Items []struct {
			SensorID string    `json:"sensorId"`
			Time     time.Time `json:"time"`
			Celsius  float64   `json:"celsius"`
		} `json:"items"`
	}
	g.must(200, "GET", "/v1/shipments/"+id+"/readings?pageSize=1000", "retailer", nil).json(g.t, &p)
	var out []string
	for _, r := range p.Items {
		out = append(out, fmt.Sprintf("%s@%s=%g", r.SensorID, r.Time.UTC().Format(time.RFC3339Nano), r.Celsius))
	}
	return out
}

// epcisSecondNetworkPort is the base port of the round trip's second
// network (test/fault's private networks use 28000..28600).
const epcisSecondNetworkPort = 28800

// TestEPCISRoundTrip exports a shipment with a document, a hand-over,
// readings of two loggers and the delivery as EPCIS 2.0 (each document
// checked against GS1's schema), and captures it, member by member and as
// the events happen (the way partner systems stream EPCIS), into a fresh
// shipment on a second network: the custody chain and the readings come out
// the same.
func TestEPCISRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local network and a second one")
	}
	net := testnet.Require(t)
	opts := gatewayOpts{epcis: epcis.Identifiers{Parties: map[string]string{
		"ExporterMSP": "4012345000009", "RetailerMSP": "4098765000003"}}}
	g := startGateway(t, net, opts)
	// B lives on a second, independent network: what is captured there
	// can come only from the exported documents, not from a ledger the
	// two shipments share.
	g2 := startGateway(t, testnet.Private(t, epcisSecondNetworkPort), opts)
	began := time.Now().UTC()
	a, b := testnet.UniqueID("EPC-A"), testnet.UniqueID("EPC-B")
	for id, gw := range map[string]*gateway{a: g, b: g2} {
		s := newShipment(id)
		s["product"] = map[string]any{"gtin": "4006381333931", "lot": "L 42/7", "description": "Green coffee", "quantity": 100, "unit": "kg"}
		s["origin"] = map[string]any{"name": "Santos", "country": "BR", "gln": "4012345000009"}
		gw.must(201, "POST", "/v1/shipments", "exporter", s)
	}
	A := "/v1/shipments/" + a
	g.must(200, "POST", A+"/documents", "exporter", map[string]any{"type": "bill_of_lading", "sha256": strings.Repeat("cd", 32)})
	g.must(200, "POST", A+"/ship", "exporter", nil)
	g.must(200, "POST", A+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})

	// The exporter's part: the whole export is refused (creation and the
	// document have no capture) and changes nothing; its shipping and
	// accepting events are captured.
	ev := g.export(a, "retailer")
	if got := steps(ev); got != "commissioning,,shipping,accepting" {
		t.Fatalf("export of A after the hand-over: %s", got)
	}
	var all []json.RawMessage
	for _, e := range ev {
		all = append(all, e.raw)
	}
	_, before := g2.custody(b)
	var p api.Problem
	g2.capture(422, "exporter", b, all).json(t, &p)
	var refused []epcis.Refusal
	_ = json.Unmarshal(p.Events, &refused)
	if p.Type != "urn:shiptrace:problem:epcis-event-refused" || len(refused) != 2 || refused[0].Index != 0 || refused[0].EventID != ev[0].EventID ||
		refused[1].Index != 1 || !strings.Contains(p.Detail, "event 0 ("+ev[0].EventID+")") {
		t.Fatalf("whole export: %+v", p)
	}
	if _, after := g2.custody(b); after.Version != before.Version {
		t.Fatalf("a refused document changed B: version %d -> %d", before.Version, after.Version)
	}
	var out struct {
		Events []api.CaptureOutcome `json:"events"`
	}
	firstIDs := ids(ev, "shipping", "accepting")
	g2.capture(200, "exporter", b, pick(ev, "shipping", "accepting")).json(t, &out)
	if len(out.Events) != 2 || out.Events[0].Operation != "Ship" || out.Events[1].Operation != "HandOver" || out.Events[1].Transaction.Status != "COMMITTED" {
		t.Fatalf("exporter's capture: %+v", out)
	}

	// The carrier's loggers report on A, inside its custody of both.
	start := time.Now().UTC().Truncate(time.Millisecond)
	var rs []map[string]any
	for i := range 40 {
		rs = append(rs, map[string]any{"sensorId": []string{"S1", "urn:epc:id:giai:4000001.111"}[i%2],
			"time": start.Add(time.Duration(i) * 50 * time.Millisecond).Format(time.RFC3339Nano), "celsius": 3.5 + float64(i%7)/4})
	}
	g.must(200, "POST", A+"/readings", "carrier", map[string]any{"readings": rs})
	time.Sleep(time.Until(start.Add(2 * time.Second))) // delivered after the last reading
	g.must(200, "POST", A+"/deliver", "retailer", nil)

	ev = g.export(a, "carrier")
	sensorEvents := pick(ev, "sensor_reporting")
	if got := steps(ev); !strings.HasPrefix(got, "commissioning,,shipping,accepting,sensor_reporting") || !strings.HasSuffix(got, "receiving") || len(sensorEvents) != 2 {
		t.Fatalf("export of A after delivery: %s", got)
	}
	// The exporter sends its events again (replayed, nothing changes),
	// the carrier its readings, the buyer its receiving.
	_, before = g2.custody(b)
	if again := ids(ev, "shipping", "accepting"); again != firstIDs {
		t.Fatalf("event IDs changed between exports: %s, then %s", firstIDs, again)
	}
	g2.capture(200, "exporter", b, pick(ev, "shipping", "accepting")).json(t, &out)
	if len(out.Events) != 2 || !out.Events[0].Replayed || !out.Events[1].Replayed {
		t.Fatalf("second capture: %+v", out)
	}
	if _, after := g2.custody(b); after.Version != before.Version {
		t.Fatalf("a replayed capture changed B: version %d -> %d", before.Version, after.Version)
	}
	g2.capture(200, "carrier", b, sensorEvents)
	g2.capture(200, "retailer", b, pick(ev, "receiving"))

	chainA, va := g.custody(a)
	chainB, vb := g2.custody(b)
	if chainA != "ExporterMSP>CarrierMSP>RetailerMSP" || chainA != chainB || va.Status != "DELIVERED" || vb.Status != "DELIVERED" {
		t.Fatalf("custody A %s (%s), B %s (%s)", chainA, va.Status, chainB, vb.Status)
	}
	ra, rb := g.readingsOf(a), g2.readingsOf(b)
	if len(ra) != 40 || !slices.Equal(ra, rb) {
		t.Fatalf("readings differ:\nA %v\nB %v", ra, rb)
	}
	evB := g2.export(b, "exporter")
	if sa, sb := steps(pick2(ev)), steps(pick2(evB)); sa != sb {
		t.Errorf("event steps A %s, B %s", sa, sb)
	}

	// The same eventID with another event is refused; a repeat is not.
	recv := pick(ev, "receiving")[0]
	g2.capture(200, "retailer", b, []json.RawMessage{recv}).json(t, &out)
	if !out.Events[0].Replayed {
		t.Errorf("receiving again: %+v", out)
	}
	changed := json.RawMessage(strings.Replace(string(recv), `"eventTimeZoneOffset":"+00:00"`, `"eventTimeZoneOffset":"+01:00"`, 1))
	g2.capture(422, "retailer", b, []json.RawMessage{changed}).json(t, &p)
	if p.Type != "urn:shiptrace:problem:epcis-event-id-reused" || !strings.Contains(p.Detail, "event 0") {
		t.Errorf("reused eventID: %+v", p)
	}
	// A contract refusal names the event: the carrier cannot ship.
	c := testnet.UniqueID("EPC-C")
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(c))
	g.capture(403, "carrier", c, pick(ev, "shipping")).json(t, &p)
	if p.Code != "FORBIDDEN" || !strings.Contains(p.Detail, "event 0 (") {
		t.Errorf("carrier ships: %+v", p)
	}
	// Not EPCIS at all.
	g.captureRaw(400, "exporter", c, []byte(`{"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":[]}}`)).json(t, &p)
	if len(p.Errors) == 0 {
		t.Errorf("schema problem without errors: %+v", p)
	}

	// The query form on each network: delivered shipments with the
	// carrier as counterpart since the test began, page by page; every
	// page validates.
	for id, gw := range map[string]*gateway{a: g, b: g2} {
		found := false
		next := "/v1/epcis/events?status=DELIVERED&counterpart=CarrierMSP&pageSize=5&from=" + url.QueryEscape(began.Format(time.RFC3339Nano))
		for i := 0; next != "" && i < 50; i++ {
			r := gw.must(200, "GET", next, "retailer", nil)
			for _, e := range gw.events(r.Body) {
				if e.EventTime.Before(began) {
					t.Errorf("event at %s before from", e.EventTime)
				}
				found = found || bytes.Contains(e.raw, []byte("urn:shiptrace:shipment:"+id+`"`))
			}
			next = ""
			if l := r.Header.Get("Link"); l != "" {
				next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		if !found {
			t.Errorf("query form: %s not found on its network", id)
		}
	}
}

// pick2 drops the document event, which B does not have.
func pick2(ev []exportedEvent) []exportedEvent {
	var out []exportedEvent
	for _, e := range ev {
		if e.BizStep != "" {
			out = append(out, e)
		}
	}
	return out
}

// TestEPCISCaptureAfterALostCommitIsSettledFromTheLedger: the shipping event
// committed but the gateway never learnt it; after a restart, capturing the
// event again answers from the ledger and ships nothing a second time.
func TestEPCISCaptureAfterALostCommitIsSettledFromTheLedger(t *testing.T) {
	net := testnet.Require(t)
	path := filepath.Join(t.TempDir(), "journal.db")
	id := testnet.UniqueID("EPC-LOST")
	event := json.RawMessage(`{"type":"ObjectEvent","eventID":"urn:uuid:` + uuidOf(id) + `","action":"OBSERVE",
		"eventTime":"` + time.Now().UTC().Format(time.RFC3339) + `","eventTimeZoneOffset":"+00:00",
		"quantityList":[{"epcClass":"urn:shiptrace:sku:ExporterMSP:COF-1:L-42"}],"bizStep":"shipping","disposition":"in_transit",
		"bizTransactionList":[{"type":"desadv","bizTransaction":"urn:shiptrace:shipment:` + id + `"}]}`)

	g := startGateway(t, net, gatewayOpts{journalPath: path})
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))
	g.stop()
	g = startGateway(t, net, gatewayOpts{journalPath: path, wrap: func(l api.Ledger) api.Ledger { return lostCommit{l} }})
	var p api.Problem
	g.capture(503, "exporter", "", []json.RawMessage{event}).json(t, &p)
	if p.TxID == "" || !strings.Contains(p.Detail, "event 0 (urn:uuid:") {
		t.Fatalf("lost commit problem %+v", p)
	}
	g.stop()

	g = startGateway(t, net, gatewayOpts{journalPath: path})
	var out struct {
		Events []api.CaptureOutcome `json:"events"`
	}
	g.capture(200, "exporter", "", []json.RawMessage{event}).json(t, &out)
	if len(out.Events) != 1 || !out.Events[0].Replayed || out.Events[0].Transaction.ID != p.TxID || out.Events[0].Operation != "Ship" {
		t.Fatalf("settled capture %+v, want tx %s", out, p.TxID)
	}
	if s := g.get(id); s.Status != "SHIPPED" || s.Version != 2 {
		t.Fatalf("after the settled capture: %+v", s)
	}
}

// uuidOf is a UUID-shaped name for a test event.
func uuidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-5" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}
