package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/gateway/journal"
	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

// fakeLedger is a small contract in memory: it keeps every version of each
// record, answers the reads the console and the detail view make, applies
// the writes the console offers, and records every request. refuse, when
// set, refuses a write as the contract would.
type fakeLedger struct {
	mu       sync.Mutex
	versions map[string][]version
	order    []string
	calls    []fabric.Request
	refuse   func(req fabric.Request) error
	n        int
	// blockStoreDown makes every proof look-up fail.
	blockStoreDown bool
	// claims are the buyers' claims per shipment (OpenClaim by a notifier).
	claims map[string][]shipment.Claim
}

type version struct {
	tx string
	s  shipment.Shipment
}

const (
	buyerPhone = "+4915112345678"
	buyerName  = "Erika Mustermann"
)

func newFakeLedger() *fakeLedger { return &fakeLedger{versions: map[string][]version{}} }

func (f *fakeLedger) add(s shipment.Shipment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	s.Version = 1
	f.versions[s.ID] = append(f.versions[s.ID], version{tx: txID(f.n), s: s})
	f.order = append(f.order, s.ID)
	slices.Sort(f.order)
}

func txID(n int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(n)))
	return hex.EncodeToString(sum[:])
}

func (f *fakeLedger) Calls() []fabric.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fabric.Request(nil), f.calls...)
}

// writes are the calls that would change the ledger.
func (f *fakeLedger) writes() []fabric.Request {
	var out []fabric.Request
	for _, c := range f.Calls() {
		if shipment.Operation(c.Tx).Writes() {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeLedger) latest(id string) (shipment.Shipment, bool) {
	v := f.versions[id]
	if len(v) == 0 {
		return shipment.Shipment{}, false
	}
	return v[len(v)-1].s, true
}

func (f *fakeLedger) Evaluate(_ context.Context, req fabric.Request) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	switch req.Tx {
	case "ReadShipment":
		s, ok := f.latest(req.Args[0])
		if !ok {
			return nil, shipment.Errorf(shipment.NotFound, "shipment %s does not exist", req.Args[0])
		}
		return json.Marshal(s)
	case "ListShipments":
		var filter struct{ Status, Exporter, Buyer, Carrier string }
		if req.Args[0] != "" {
			if err := json.Unmarshal([]byte(req.Args[0]), &filter); err != nil {
				return nil, err
			}
		}
		size, _ := strconv.Atoi(req.Args[1])
		start, _ := strconv.Atoi(req.Args[2])
		var items []shipment.Shipment
		i := start
		for ; i < len(f.order) && len(items) < size; i++ {
			s, _ := f.latest(f.order[i])
			if filter.Status == "" || string(s.Status) == filter.Status {
				items = append(items, s)
			}
		}
		bookmark := ""
		if i < len(f.order) {
			bookmark = strconv.Itoa(i)
		}
		return json.Marshal(map[string]any{"items": items, "bookmark": bookmark})
	case "ShipmentHistory":
		var items []map[string]any
		vs := f.versions[req.Args[0]]
		for i := len(vs) - 1; i >= 0; i-- {
			items = append(items, map[string]any{"txId": vs[i].tx, "time": vs[i].s.UpdatedAt, "mspId": vs[i].s.UpdatedBy, "shipment": vs[i].s})
		}
		return json.Marshal(map[string]any{"items": items, "bookmark": ""})
	case "Readings":
		return []byte(`{"items":[],"bookmark":""}`), nil
	case "Members":
		return nil, shipment.Errorf(shipment.Forbidden, "no registry")
	case "Claims":
		out := f.claims[req.Args[0]]
		if out == nil {
			out = []shipment.Claim{}
		}
		return json.Marshal(out)
	case "BuyerContact":
		return json.Marshal(shipment.Contact{Phone: buyerPhone, Name: buyerName, Language: "de"})
	}
	return nil, fmt.Errorf("fake ledger: no %s", req.Tx)
}

func (f *fakeLedger) Provenance(_ context.Context, _, tx string) (fabric.Provenance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blockStoreDown {
		return fabric.Provenance{}, errors.New("qscc GetBlockByTxID: peer0.exporter.example:7051 unavailable")
	}
	return fabric.Provenance{TxID: tx, Found: true, BlockNumber: 7, Valid: true, Code: "VALID",
		Endorsers: []string{"ExporterMSP", "CarrierMSP"}}, nil
}

// Start applies a write to the record, as the contract would after its
// checks (which the fake leaves to refuse).
func (f *fakeLedger) Start(ctx context.Context, req fabric.Request) (fabric.Submission, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	refuse := f.refuse
	f.mu.Unlock()
	if refuse != nil {
		if err := refuse(req); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := txID(f.n)
	if req.OnTxID != nil {
		if err := req.OnTxID(ctx, id); err != nil {
			return nil, err
		}
	}
	s, ok := f.latest(req.Args[0])
	if !ok {
		return nil, shipment.Errorf(shipment.NotFound, "shipment %s does not exist", req.Args[0])
	}
	switch req.Tx {
	case "Ship":
		s.Status = shipment.StatusShipped
	case "HandOver":
		s.Custodian, s.Status = req.Args[1], shipment.StatusInTransit
	case "Deliver":
		s.Status = shipment.StatusDelivered
	}
	s.Version++
	s.UpdatedAt = s.UpdatedAt.Add(time.Hour)
	f.versions[s.ID] = append(f.versions[s.ID], version{tx: id, s: s})
	receipt := fmt.Sprintf(`{"shipmentId":%q,"status":%q,"version":%d,"txId":%q}`, s.ID, s.Status, s.Version, id)
	return committed{id: id, result: receipt}, nil
}

type committed struct{ id, result string }

func (c committed) TxID() string { return c.id }
func (c committed) Wait(context.Context) (fabric.Committed, error) {
	return fabric.Committed{TxID: c.id, BlockNumber: 7, Result: []byte(c.result), Attempts: 1}, nil
}

func (f *fakeLedger) Lookup(_ context.Context, _, tx string) (fabric.TxRecord, error) {
	return fabric.TxRecord{TxID: tx}, nil
}

func (f *fakeLedger) Ready(context.Context) error { return nil }

// WaitForBlock: the fake ledger has every block at once.
func (f *fakeLedger) WaitForBlock(context.Context, string, uint64) error { return nil }

// The keys of the tests: one per role the console must tell apart.
const (
	carrierKey = "carrier-secret-key-0123456789abcdef"
	buyerKey   = "buyer-secret-key-0123456789abcdef"
)

func keys() []api.Key {
	return []api.Key{
		{Name: "carrier-desk", Hash: sha256.Sum256([]byte(carrierKey)), Identity: "carrier", MSPID: "CarrierMSP", Role: shipment.RoleCarrierOperator},
		{Name: "goods-in", Hash: sha256.Sum256([]byte(buyerKey)), Identity: "buyer", MSPID: "RetailerMSP", Role: shipment.RoleBuyerReceiver},
	}
}

// clock is a settable test clock shared by the API and the console.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is the real API server with the console mounted, over the fake
// ledger.
type harness struct {
	t       *testing.T
	ledger  *fakeLedger
	clock   *clock
	srv     *api.Server
	console *Console
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{t: t, ledger: newFakeLedger(), clock: &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}}
	signer, err := tracklink.New([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Options{Ledger: h.ledger, Identity: "gateway", Signer: signer, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	o.Ledger, o.Pages, o.Now = h.ledger, pages, h.clock.Now
	if h.console, err = New(o); err != nil {
		t.Fatal(err)
	}
	jr, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jr.Close() })
	h.srv, err = api.New(api.Options{Ledger: h.ledger, Journal: jr, Keys: keys(), Now: h.clock.Now,
		Mount: []func(*echo.Echo){pages.Mount, h.console.Mount}})
	if err != nil {
		t.Fatal(err)
	}
	h.console.Attach(h.srv)
	for _, s := range fixtures() {
		h.ledger.add(s)
	}
	return h
}

// fixtures are the shipments every test starts with.
func fixtures() []shipment.Shipment {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	mk := func(id, ref string, st shipment.Status, buyer string) shipment.Shipment {
		return shipment.Shipment{ID: id, Exporter: "ExporterMSP", Carrier: "CarrierMSP", Buyer: buyer, BuyerRef: ref,
			Custodian: "ExporterMSP", Status: st, Product: shipment.Product{Description: "Mangoes", Lot: "L-1"}, CreatedAt: at, UpdatedAt: at,
			UpdatedBy: "ExporterMSP", ExpectedDeliveryAt: at.Add(96 * time.Hour), HasBuyerContact: true,
			ColdChainPolicy: shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30}}
	}
	breached := mk("SHP-C-003", "PO-7781", shipment.StatusShipped, "RetailerMSP")
	breached.ColdChainVerdict.BreachedAt = at.Add(5 * time.Hour)
	inCarriersHands := mk("SHP-C-002", "PO-7701", shipment.StatusInTransit, "Retailer2MSP")
	inCarriersHands.Custodian = "CarrierMSP"
	overdue := mk("SHP-C-004", "PO-7790", shipment.StatusShipped, "Retailer2MSP")
	overdue.Overdue = true
	return []shipment.Shipment{
		mk("SHP-C-001", "PO-7700", shipment.StatusCreated, "RetailerMSP"),
		inCarriersHands,
		breached, overdue,
	}
}

// browser is one client: its address and its cookie jar of one cookie.
type browser struct {
	h      *harness
	addr   string
	cookie *http.Cookie
}

func (h *harness) browser(addr string) *browser { return &browser{h: h, addr: addr} }

type reqOpt func(*http.Request)

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func (b *browser) do(method, path string, form url.Values, opts ...reqOpt) *httptest.ResponseRecorder {
	b.h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "http://gw.example"+path, body)
	r.RemoteAddr = b.addr + ":40000"
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		r.Header.Set("Origin", "http://gw.example")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	b.h.srv.Handler().ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			if c.MaxAge < 0 {
				b.cookie = nil
			} else {
				b.cookie = c
			}
		}
	}
	return w
}

// signIn signs in with key and returns the page's CSRF token.
func (b *browser) signIn(key string) string {
	b.h.t.Helper()
	w := b.do(http.MethodPost, "/console/signin", url.Values{"key": {key}})
	if w.Code != http.StatusSeeOther || b.cookie == nil {
		b.h.t.Fatalf("sign-in: %d %s", w.Code, w.Body)
	}
	return b.csrf()
}

// csrf reads the CSRF token from the list page's sign-out form.
func (b *browser) csrf() string {
	b.h.t.Helper()
	w := b.do(http.MethodGet, "/console/", nil)
	_, rest, ok := strings.Cut(w.Body.String(), `name="csrf" value="`)
	if !ok {
		b.h.t.Fatalf("no CSRF token on the page: %d %s", w.Code, w.Body)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}
