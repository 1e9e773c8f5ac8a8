package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

const (
	shipID     = "SHP-WEB-1"
	buyerPhone = "+4915123456789"
	buyerName  = "Anna Beispiel"
)

var (
	now       = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	start     = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	secret    = []byte("0123456789abcdef0123456789abcdef")
	goodFile  = []byte("certificate of origin, lot L-42")
	goodHash  = sha256.Sum256(goodFile)
	breachAt  = start.Add(5 * time.Hour)
	memberSet = shipment.Consortium{Members: shipment.Members{Sequence: 1, Members: []shipment.Member{
		{MSPID: "ExporterMSP", Name: "Santos Coffee Exporters"}, {MSPID: "CarrierMSP", Name: "Atlantic Reefer Lines"},
		{MSPID: "RetailerMSP", Name: "Hamburg Fresh Markets"}}}}
)

// fakeLedger answers the contract's queries from a shipment it holds, the
// way the real contract pages them, and records every call.
type fakeLedger struct {
	mu       sync.Mutex
	calls    []string
	record   shipment.Shipment
	history  []shipment.Shipment // oldest first
	readings []shipment.Reading
	fail     error // every call fails with it
	// noRegistry: Members is refused, as before the consortium's first set.
	noRegistry bool
}

func (f *fakeLedger) Evaluate(_ context.Context, req fabric.Request) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req.Identity+" "+req.Tx)
	f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	switch req.Tx {
	case "ReadShipment":
		if req.Args[0] != f.record.ID {
			return nil, fmt.Errorf("endorse: %w", shipment.Errorf(shipment.NotFound, "shipment %s does not exist", req.Args[0]))
		}
		return json.Marshal(f.record)
	case "ShipmentHistory":
		type entry struct {
			TxID     string             `json:"txId"`
			Time     time.Time          `json:"time"`
			MSPID    string             `json:"mspId"`
			Shipment *shipment.Shipment `json:"shipment"`
		}
		var items []entry
		for i := len(f.history) - 1; i >= 0; i-- {
			v := f.history[i]
			items = append(items, entry{TxID: v.UpdatedTx, Time: v.UpdatedAt, MSPID: v.UpdatedBy, Shipment: &v})
		}
		return json.Marshal(map[string]any{"items": items, "bookmark": ""})
	case "Readings":
		size, _ := strconv.Atoi(req.Args[3])
		from, _ := strconv.Atoi(req.Args[4])
		to := min(from+size, len(f.readings))
		next := ""
		if to < len(f.readings) {
			next = strconv.Itoa(to)
		}
		return json.Marshal(map[string]any{"items": f.readings[from:to], "bookmark": next})
	case "Members":
		if f.noRegistry {
			return nil, fmt.Errorf("evaluate: %w", shipment.Errorf(shipment.NotFound, "the consortium's members are not recorded yet"))
		}
		return json.Marshal(memberSet)
	case "BuyerContact":
		return json.Marshal(shipment.Contact{Phone: buyerPhone, Name: buyerName, Language: "de", Consent: true})
	}
	return nil, fmt.Errorf("fake ledger: no %s", req.Tx)
}

func (f *fakeLedger) Provenance(_ context.Context, identity, txID string) (fabric.Provenance, error) {
	f.mu.Lock()
	f.calls = append(f.calls, identity+" qscc")
	f.mu.Unlock()
	for i, v := range f.history {
		if v.UpdatedTx == txID {
			return fabric.Provenance{TxID: txID, Found: true, BlockNumber: uint64(40 + i), Valid: true, Code: "VALID",
				Time: v.UpdatedAt, Endorsers: []string{"ExporterMSP", "RetailerMSP"}, Creator: v.UpdatedBy}, nil
		}
	}
	return fabric.Provenance{}, fmt.Errorf("no transaction %s", txID)
}

func (f *fakeLedger) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// breachedShipment is a shipment handed to the carrier, with two loggers,
// one of which left the band long enough to breach.
func breachedShipment(sensors, perSensor int) *fakeLedger {
	v1 := shipment.Shipment{ID: shipID, Exporter: "ExporterMSP", Buyer: "RetailerMSP", Carrier: "CarrierMSP",
		BuyerRef: "PO-7781", Custodian: "ExporterMSP", Status: shipment.StatusCreated,
		Product:            shipment.Product{GTIN: "4006381333931", Lot: "L-42", Description: "Green coffee", Quantity: 100, Unit: "kg"},
		Origin:             shipment.Place{Name: "Santos", Country: "BR"},
		Destination:        shipment.Place{Name: "Hamburg", Country: "DE"},
		ColdChainPolicy:    shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30},
		ExpectedDeliveryAt: start.Add(10 * 24 * time.Hour), CreatedAt: start.Add(-time.Hour),
		UpdatedAt: start.Add(-time.Hour), UpdatedBy: "ExporterMSP", UpdatedTx: "tx-create", Version: 1}
	v2 := v1
	v2.Documents = []shipment.Document{{Type: "certificate_of_origin", SHA256: hex.EncodeToString(goodHash[:]), AddedBy: "ExporterMSP", AddedAt: start.Add(-50 * time.Minute)}}
	v2.UpdatedAt, v2.UpdatedTx, v2.Version = start.Add(-50*time.Minute), "tx-doc", 2
	v3 := v2
	v3.Status, v3.ShippedAt, v3.UpdatedAt, v3.UpdatedTx, v3.Version = shipment.StatusShipped, start.Add(-30*time.Minute), start.Add(-30*time.Minute), "tx-ship", 3
	v4 := v3
	v4.Status, v4.Custodian, v4.UpdatedAt, v4.UpdatedTx, v4.Version, v4.UpdatedBy = shipment.StatusInTransit, "CarrierMSP", start.Add(-10*time.Minute), "tx-handover", 4, "CarrierMSP"
	v5 := v4
	v5.ColdChainVerdict = shipment.ColdChainVerdict{Sensors: []string{"logger-1"}, BreachedAt: breachAt, BreachSensor: "logger-1"}
	v5.UpdatedAt, v5.UpdatedTx, v5.Version = breachAt, "tx-breach", 5

	var readings []shipment.Reading
	for s := range sensors {
		for i := range perSensor {
			c := 4.0 + float64(s)*0.5
			at := start.Add(time.Duration(i) * 10 * time.Hour / time.Duration(perSensor))
			if s == 0 && at.After(start.Add(4*time.Hour)) && at.Before(start.Add(6*time.Hour)) {
				c = 11.5 // the excursion that breached
			}
			readings = append(readings, shipment.Reading{SensorID: fmt.Sprintf("logger-%d", s+1), Time: at, Celsius: c})
		}
	}
	record := v5
	record.HasBuyerContact = true
	record.Overdue = true
	record.Settlement = &shipment.Settlement{Kind: shipment.SettleOverdue, Outcome: shipment.OutcomeProvisional, Currency: "EUR",
		InvoiceAmountMinor: 1_234_567, DaysLate: 2, LatePenaltyBps: 300, LatePenaltyMinor: 37_037, HeldMinor: 1_234_567}
	mn, mx, mean := 4.0, 11.5, 5.1
	record.ColdChain = shipment.ColdChainSummary{State: shipment.ColdChainBreached, Count: int64(len(readings)),
		MinC: &mn, MaxC: &mx, MeanC: &mean, OutOfRangeMinutes: 120, BreachedAt: breachAt}
	return &fakeLedger{record: record, history: []shipment.Shipment{v1, v2, v3, v4, v5}, readings: readings}
}

type harness struct {
	mu     sync.Mutex
	at     time.Time // the pages' clock, now unless a test moves it
	ledger *fakeLedger
	signer *tracklink.Signer
	srv    *httptest.Server
	pages  *web.Pages
}

func newHarness(t *testing.T, ledger *fakeLedger) *harness {
	t.Helper()
	signer, err := tracklink.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{at: now, ledger: ledger, signer: signer}
	pages, err := web.New(web.Options{Ledger: ledger, Identity: "exporter", Signer: signer, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	pages.Mount(e)
	h.srv, h.pages = httptest.NewServer(e), pages
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.at
}

func (h *harness) setNow(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = t
}

func (h *harness) token(t *testing.T, c tracklink.Claims) string {
	t.Helper()
	if c.Audience == "" {
		c.Audience = tracklink.AudienceBuyer
	}
	if c.Expires.IsZero() {
		c.Expires = now.Add(90 * 24 * time.Hour)
	}
	tok, err := h.signer.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) get(t *testing.T, path string, header ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestEveryRefusedLinkGetsTheSameNotFoundPage(t *testing.T) {
	h := newHarness(t, breachedShipment(2, 50))
	valid := h.token(t, tracklink.Claims{ShipmentID: shipID})
	if r := h.get(t, "/track/"+valid); r.status != http.StatusOK {
		t.Fatalf("valid link: %d %s", r.status, r.body)
	}
	raw := []byte(valid)
	raw[len(raw)-2] ^= 'A' ^ 'B' // one character of the tag changed
	erased := breachedShipment(2, 50)
	erased.record.HasBuyerContact = false
	he := newHarness(t, erased)

	cases := map[string]func() response{
		"expired": func() response {
			return h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: shipID, Expires: now.Add(-time.Second)}))
		},
		"tampered": func() response { return h.get(t, "/track/"+string(raw)) },
		"garbage":  func() response { return h.get(t, "/track/not-a-token") },
		"unknown shipment": func() response {
			return h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: "SHP-NOPE", Lang: "pt_BR"}))
		},
		"contact erased": func() response {
			return he.get(t, "/track/"+he.token(t, tracklink.Claims{ShipmentID: shipID, Lang: "de"}))
		},
	}
	var first []byte
	for name, get := range cases {
		r := get()
		if r.status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", name, r.status)
		}
		if first == nil {
			first = r.body
		} else if !bytes.Equal(r.body, first) {
			t.Errorf("%s: body differs from the other refusals:\n%s\n---\n%s", name, r.body, first)
		}
		if bytes.Contains(r.body, []byte(shipID)) || bytes.Contains(r.body, []byte("SHP-NOPE")) {
			t.Errorf("%s: the not-found page names a shipment", name)
		}
		if r.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no CSP header", name)
		}
	}
	if !bytes.Contains(first, []byte("not valid")) {
		t.Errorf("not-found page: %s", first)
	}
	// The expired, tampered and garbage links never reached the ledger.
	for _, c := range h.ledger.Calls() {
		if strings.HasSuffix(c, "ReadShipment") {
			continue
		}
		if strings.Contains(c, "BuyerContact") {
			t.Errorf("the page read the buyer contact: %s", c)
		}
	}
}

func TestValidLinkShowsTheShipmentWithoutPersonalData(t *testing.T) {
	h := newHarness(t, breachedShipment(2, 400))
	r := h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: shipID}))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	html := string(r.body)
	for _, want := range []string{
		`<html lang="en">`, "Green coffee", "L-42", "Santos (BR)", "Hamburg (DE)",
		"Handed over</strong>: Santos Coffee Exporters → Atlantic Reefer Lines",
		"Cold chain breached", `<svg class="chart"`, `class="band"`, `class="breach"`, `class="out"`,
		`<table class="readings">`, `<th scope="row">logger-1</th>`,
		hex.EncodeToString(goodHash[:]), `id="check-file"`,
		"<code>tx-handover</code>", "<dd>43</dd>", "Santos Coffee Exporters, Hamburg Fresh Markets",
		"2026-11-30 13:00 UTC", // the breach
		`<span class="badge overdue">Overdue</span>`, "Provisional: penalty accruing</strong> · Provisional · Days late: 2",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(html, `<polyline class="line"`); n != 2 {
		t.Errorf("%d sensor lines, want 2", n)
	}
	for _, secret := range []string{buyerPhone, strings.TrimPrefix(buyerPhone, "+"), buyerName, "PO-7781", "1234567", "37037"} {
		if strings.Contains(html, secret) {
			t.Errorf("page contains %q", secret)
		}
	}
	for _, c := range h.ledger.Calls() {
		if !strings.HasPrefix(c, "exporter ") || strings.Contains(c, "BuyerContact") {
			t.Errorf("unexpected ledger call %q", c)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	if r.header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q: the token would leak to linked sites", r.header.Get("Referrer-Policy"))
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("the page refers to another host")
	}
}

func TestLanguageComesFromURLThenLinkThenBrowser(t *testing.T) {
	h := newHarness(t, breachedShipment(1, 10))
	plain := h.token(t, tracklink.Claims{ShipmentID: shipID})
	signedPT := h.token(t, tracklink.Claims{ShipmentID: shipID, Lang: "pt_BR"})
	tests := []struct {
		name, path, accept, want string
	}{
		{"browser German", "/track/" + plain, "de-AT,de;q=0.9,en;q=0.5", `<html lang="de">`},
		{"browser prefers Spanish by weight", "/track/" + plain, "en;q=0.3,es-419;q=0.8", `<html lang="es">`},
		{"unknown browser language", "/track/" + plain, "fi", `<html lang="en">`},
		{"link says pt_BR", "/track/" + signedPT, "de", `<html lang="pt-BR">`},
		{"URL overrides the link", "/track/" + signedPT + "?lang=es", "de", `<html lang="es">`},
		{"not-found page in German", "/track/bad", "de", "Link ungültig"},
	}
	for _, tt := range tests {
		r := h.get(t, tt.path, "Accept-Language", tt.accept)
		if !bytes.Contains(r.body, []byte(tt.want)) {
			t.Errorf("%s: page lacks %q", tt.name, tt.want)
		}
	}
}

func TestLedgerFailureIsUnavailableNotNotFound(t *testing.T) {
	l := breachedShipment(1, 10)
	l.fail = errors.New("peer unreachable")
	h := newHarness(t, l)
	r := h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: shipID}))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if bytes.Contains(r.body, []byte("peer unreachable")) {
		t.Error("the cause reached the public page")
	}
}

// TestPageStaysUnder100KB draws the contract's worst case the page reads:
// 10,000 readings over eight sensors, compressed as a phone asks for it.
func TestPageStaysUnder100KB(t *testing.T) {
	h := newHarness(t, breachedShipment(8, 1500))
	path := "/track/" + h.token(t, tracklink.Claims{ShipmentID: shipID})
	plain := h.get(t, path)
	if plain.status != http.StatusOK || !bytes.Contains(plain.body, []byte("The chart shows the first 10000 readings")) {
		t.Fatalf("status %d; capped note missing", plain.status)
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := io.ReadAll(res.Body)
	res.Body.Close()
	css, js := h.get(t, "/track/assets/style.css"), h.get(t, "/track/assets/check.js")
	if listing := h.get(t, "/track/assets/"); listing.status != http.StatusNotFound {
		t.Errorf("the assets folder answers %d, want 404 (no listing)", listing.status)
	}
	if css.status != 200 || js.status != 200 || css.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("assets: %d %d", css.status, js.status)
	}
	total := len(gz) + len(css.body) + len(js.body)
	t.Logf("page %d B (gzip %d B, %s), css %d B, js %d B: %d B in all", len(plain.body), len(gz), res.Header.Get("Content-Encoding"), len(css.body), len(js.body), total)
	if res.Header.Get("Content-Encoding") != "gzip" || total > 100*1024 || len(plain.body) > 100*1024 {
		t.Fatalf("too heavy: %d B transferred, %d B uncompressed", total, len(plain.body))
	}
}

// BenchmarkWorstCasePage serves the page of 10,000 readings over eight
// sensors from the fake ledger: what the gateway itself adds to the ledger
// reads (decoding, downsampling, rendering).
func BenchmarkWorstCasePage(b *testing.B) {
	h := newHarness(&testing.T{}, breachedShipment(8, 1250))
	tok, err := h.signer.Issue(tracklink.Claims{ShipmentID: shipID, Audience: tracklink.AudienceBuyer, Expires: now.Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	url := h.srv.URL + "/track/" + tok
	b.ResetTimer()
	for range b.N {
		res, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatal(res.Status)
		}
	}
}

// TestEveryViewChecksTheRecordAndReusesOnlyWhatCannotHaveChanged: a second
// view of an unchanged shipment reads only the record; a new reading or a
// new version reads everything again; an erasure closes the page at once
// even though its detail is kept.
func TestEveryViewChecksTheRecordAndReusesOnlyWhatCannotHaveChanged(t *testing.T) {
	l := breachedShipment(2, 50)
	h := newHarness(t, l)
	path := "/track/" + h.token(t, tracklink.Claims{ShipmentID: shipID})
	count := func(tx string) int {
		n := 0
		for _, c := range l.Calls() {
			if strings.HasSuffix(c, " "+tx) {
				n++
			}
		}
		return n
	}
	view := func(want int) {
		t.Helper()
		if r := h.get(t, path); r.status != want {
			t.Fatalf("status %d, want %d", r.status, want)
		}
	}
	view(200)
	view(200)
	if count("ReadShipment") != 2 || count("ShipmentHistory") != 1 || count("Readings") != 1 {
		t.Fatalf("two views of one state: %d record reads (want 2), %d history reads, %d readings reads (want 1 each)",
			count("ReadShipment"), count("ShipmentHistory"), count("Readings"))
	}
	l.mu.Lock()
	l.readings = append(l.readings, shipment.Reading{SensorID: "logger-2", Time: start.Add(11 * time.Hour), Celsius: 5})
	l.record.ColdChain.Count++
	l.mu.Unlock()
	view(200)
	if count("Readings") != 2 {
		t.Errorf("a new reading did not make the page read the readings again")
	}
	l.mu.Lock()
	l.record.HasBuyerContact = false
	l.mu.Unlock()
	view(http.StatusNotFound)
}

// TestAKeptPageMovesWithTheMinuteAndTheRecord: the whole page is kept,
// compressed, per record state, language and minute; it must never show an
// older minute than the view's or an older state than the record's.
func TestAKeptPageMovesWithTheMinuteAndTheRecord(t *testing.T) {
	l := breachedShipment(2, 50)
	h := newHarness(t, l)
	path := "/track/" + h.token(t, tracklink.Claims{ShipmentID: shipID})
	gunzip := func(r response) []byte {
		t.Helper()
		if r.status != http.StatusOK || r.header.Get("Content-Encoding") != "gzip" || !strings.Contains(r.header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("status %d, Content-Encoding %q, Vary %q", r.status, r.header.Get("Content-Encoding"), r.header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// get asks as a browser would; the test's transport adds no gzip of its own.
	get := func(gz bool) response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}

	h.setNow(now.Add(10 * time.Second))
	first := gunzip(get(true))
	h.setNow(now.Add(50 * time.Second))
	plain := get(false)
	if plain.header.Get("Content-Encoding") != "" || !bytes.Equal(plain.body, first) {
		t.Fatalf("the plain page of the same minute differs from the compressed one (Content-Encoding %q)", plain.header.Get("Content-Encoding"))
	}
	if !bytes.Contains(first, []byte("2026-12-03 12:00 UTC</time></p></footer>")) {
		t.Fatalf("footer of the first minute missing")
	}
	h.setNow(now.Add(65 * time.Second))
	next := gunzip(get(true))
	if !bytes.Contains(next, []byte("2026-12-03 12:01 UTC</time></p></footer>")) {
		t.Errorf("a minute later the kept page still shows the earlier minute")
	}
	l.mu.Lock()
	l.readings = append(l.readings, shipment.Reading{SensorID: "logger-2", Time: start.Add(11 * time.Hour), Celsius: 5})
	l.record.ColdChain.Count++
	l.mu.Unlock()
	h.setNow(now.Add(70 * time.Second))
	before := gunzip(get(true))
	h.setNow(now.Add(75 * time.Second))
	if again := gunzip(get(true)); !bytes.Equal(again, before) {
		t.Errorf("two views of one state in one minute differ")
	}
	if bytes.Equal(before, next) {
		t.Errorf("a new reading left the kept page as it was")
	}
}

// TestDetailViewIsReusableWithoutThePage: what the member console would do,
// read as its own identity and render the detail view into its own layout.
func TestDetailViewIsReusableWithoutThePage(t *testing.T) {
	l := breachedShipment(2, 50)
	h := newHarness(t, l)
	signer, _ := tracklink.New(secret)
	pages, err := web.New(web.Options{Ledger: l, Identity: "exporter", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	d, err := web.ReadDetail(context.Background(), l, "retailer", l.record, now)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := pages.RenderDetail(&b, "es", d); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if strings.Contains(html, "<html") || !strings.Contains(html, "Cadena de frío rota") || !strings.Contains(html, `<svg class="chart"`) {
		t.Errorf("detail view: %.300s", html)
	}
	page := string(h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: shipID}), "Accept-Language", "es").body)
	if !strings.Contains(page, strings.TrimSpace(html)) {
		t.Error("the public page does not hold the same detail view")
	}
	var asRetailer int
	for _, c := range l.Calls() {
		if strings.HasPrefix(c, "retailer ") {
			asRetailer++
		}
	}
	if asRetailer == 0 {
		t.Error("ReadDetail did not read as the identity it was given")
	}
}

// TestWithoutARegistryTheMSPIDsAreTheNames: the page does not depend on
// the member registry being there.
func TestWithoutARegistryTheMSPIDsAreTheNames(t *testing.T) {
	l := breachedShipment(1, 10)
	l.noRegistry = true
	h := newHarness(t, l)
	r := h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: shipID}))
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte("Handed over</strong>: ExporterMSP → CarrierMSP")) {
		t.Fatalf("status %d; page without display names:\n%.2000s", r.status, r.body)
	}
}

// TestEUDRSummaryOnThePage: plot count, total area, countries, the
// due-diligence reference and the kinds of evidence attached show; the page
// has nothing else of the plots.
func TestEUDRSummaryOnThePage(t *testing.T) {
	l := breachedShipment(1, 10)
	l.record.Plots = &shipment.PlotsSummary{SHA256: strings.Repeat("ab", 32), Count: 2, AreaHa: 6.3876, QuantityKg: 2000,
		Countries: []string{"BR", "CI"}, Commodities: []string{"coffee"}, HSCodes: []string{"090111"}, AttachedTx: "tx-plots"}
	l.record.DueDiligence = &shipment.DueDiligence{Reference: "25FRXVV3VOS991", Verification: "KJTS6TQ8", RecordedBy: "RetailerMSP"}
	l.record.Documents = append(l.record.Documents,
		shipment.Document{Type: "deforestation_analysis", SHA256: strings.Repeat("cd", 32), AddedBy: "ExporterMSP"},
		shipment.Document{Type: "land_title", SHA256: strings.Repeat("ef", 32), AddedBy: "ExporterMSP"},
		shipment.Document{Type: "land_title", SHA256: strings.Repeat("01", 32), AddedBy: "ExporterMSP"})
	h := newHarness(t, l)
	r := h.get(t, "/track/"+h.token(t, tracklink.Claims{ShipmentID: shipID})+"?lang=de")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	html := string(r.body)
	for _, want := range []string{"EU-Entwaldungsverordnung", "Erzeugungsflächen</dt><dd>2</dd>", "6,39 ha", "<dd>BR, CI</dd>", "<code>25FRXVV3VOS991</code>",
		"Nachweise im Ledger</dt><dd>Entwaldungsanalyse, Landtitel</dd>"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(html, "KJTS6TQ8") || strings.Contains(html, strings.Repeat("ab", 32)) {
		t.Error("page shows more of the filing than the reference")
	}
}
