package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/journal"
)

// fakeLedger is a hand-written Ledger: each behaviour is a function field,
// and every request is recorded.
type fakeLedger struct {
	mu       sync.Mutex
	calls    []fabric.Request
	evaluate func(req fabric.Request) ([]byte, error)
	start    func(req fabric.Request) (fabric.Submission, error)
	lookup   func(identity, txID string) (fabric.TxRecord, error)
	ready    func() error
	// waitForBlock stands in for the peer's height; nil: every block is there.
	waitForBlock func(ctx context.Context, identity string, block uint64) error
}

func (f *fakeLedger) record(req fabric.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
}

func (f *fakeLedger) Calls() []fabric.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fabric.Request(nil), f.calls...)
}

func (f *fakeLedger) Evaluate(_ context.Context, req fabric.Request) ([]byte, error) {
	f.record(req)
	if f.evaluate == nil {
		return []byte(`{"id":"SHP-1"}`), nil
	}
	return f.evaluate(req)
}

func (f *fakeLedger) Start(ctx context.Context, req fabric.Request) (fabric.Submission, error) {
	f.record(req)
	if f.start == nil {
		return committedSub(ctx, req, testReceipt)
	}
	return f.start(req)
}

func (f *fakeLedger) Lookup(_ context.Context, identity, txID string) (fabric.TxRecord, error) {
	if f.lookup == nil {
		return fabric.TxRecord{TxID: txID}, nil
	}
	return f.lookup(identity, txID)
}

func (f *fakeLedger) WaitForBlock(ctx context.Context, identity string, block uint64) error {
	if f.waitForBlock == nil {
		return nil
	}
	return f.waitForBlock(ctx, identity, block)
}

func (f *fakeLedger) Ready(context.Context) error {
	if f.ready == nil {
		return nil
	}
	return f.ready()
}

// fakeSub is a Submission whose Wait runs wait.
type fakeSub struct {
	id   string
	wait func(ctx context.Context) (fabric.Committed, error)
}

func (s fakeSub) TxID() string { return s.id }
func (s fakeSub) Wait(ctx context.Context) (fabric.Committed, error) {
	return s.wait(ctx)
}

var txCounter struct {
	sync.Mutex
	n int
}

func nextTxID() string {
	txCounter.Lock()
	defer txCounter.Unlock()
	txCounter.n++
	sum := sha256.Sum256([]byte{byte(txCounter.n), byte(txCounter.n >> 8)})
	return strings.Repeat("0", 0) + hexOf(sum[:])
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, len(b)*2)
	for i, c := range b {
		out[i*2], out[i*2+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// testReceipt is what the fake contract returns for a write, as the real one
// does: a receipt, not the record.
const testReceipt = `{"shipmentId":"SHP-1","status":"CREATED","version":1,"txId":"t1"}`

// committedSub behaves as the real client: it announces the transaction ID
// (OnTxID) before "endorsing", then commits in block 7.
func committedSub(ctx context.Context, req fabric.Request, result string) (fabric.Submission, error) {
	id := nextTxID()
	if req.OnTxID != nil {
		if err := req.OnTxID(ctx, id); err != nil {
			return nil, err
		}
	}
	return fakeSub{id: id, wait: func(context.Context) (fabric.Committed, error) {
		return fabric.Committed{TxID: id, BlockNumber: 7, Result: []byte(result), Attempts: 1}, nil
	}}, nil
}

// loseOutcome makes every write reach the orderer and then lose its
// outcome, as when the gateway dies after submitting: the transaction ID is
// journaled, the answer is an unknown outcome. It returns where the last
// submitted ID is kept.
func (f *fakeLedger) loseOutcome() *string {
	submitted := new(string)
	f.start = func(req fabric.Request) (fabric.Submission, error) {
		*submitted = nextTxID()
		if err := req.OnTxID(context.Background(), *submitted); err != nil {
			return nil, err
		}
		return nil, &fabric.Error{Stage: fabric.StageSubmit, TxID: *submitted, Code: codes.Unavailable, Retryable: true,
			MayHaveCommitted: true, Err: errors.New("gateway died")}
	}
	return submitted
}

const (
	exporterKey = "exporter-key-0123456789abcdef"
	carrierKey  = "carrier-key-0123456789abcdef"
	retailerKey = "retailer-key-0123456789abcdef"
	// More keys of the carrier: a second key of the same identity, an
	// auditor's (reads the public record) and a temperature logger's
	// (readings only).
	carrierOpsKey     = "carrier-ops-key-0123456789abcdef"
	carrierAuditorKey = "carrier-auditor-key-0123456789abcdef"
	carrierSensorKey  = "carrier-logger-7-key-0123456789abcdef"
)

func testKeys() []Key {
	return []Key{
		{Name: "exporter-erp", Hash: sha256.Sum256([]byte(exporterKey)), Identity: "exporter", MSPID: "ExporterMSP", Role: "gateway"},
		{Name: "carrier-app", Hash: sha256.Sum256([]byte(carrierKey)), Identity: "carrier", MSPID: "CarrierMSP", Role: "gateway"},
		{Name: "retailer-app", Hash: sha256.Sum256([]byte(retailerKey)), Identity: "retailer", MSPID: "RetailerMSP", Role: "gateway"},
		{Name: "carrier-ops", Hash: sha256.Sum256([]byte(carrierOpsKey)), Identity: "carrier", MSPID: "CarrierMSP", Role: "gateway"},
		{Name: "carrier-auditor", Hash: sha256.Sum256([]byte(carrierAuditorKey)), Identity: "carrier.auditor", MSPID: "CarrierMSP", Role: "auditor"},
		{Name: "carrier-logger-7", Hash: sha256.Sum256([]byte(carrierSensorKey)), Identity: "carrier.logger-7", MSPID: "CarrierMSP", Role: "sensor"},
	}
}

type harness struct {
	t       testing.TB
	srv     *Server
	ledger  *fakeLedger
	journal *journal.Journal
	logs    *syncBuffer
	path    string
	now     time.Time
	limits  Limits
	opts    func(*Options) // adjusts the options before each open
	reg     *prometheus.Registry
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t testing.TB, ledger *fakeLedger) *harness {
	t.Helper()
	return newHarnessWith(t, ledger, Limits{})
}

// newHarnessWith is newHarness with limits.
func newHarnessWith(t testing.TB, ledger *fakeLedger, limits Limits) *harness {
	t.Helper()
	h := &harness{t: t, ledger: ledger, logs: &syncBuffer{}, path: filepath.Join(t.TempDir(), "journal.db"),
		now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), limits: limits}
	h.open()
	return h
}

func (h *harness) open() {
	h.t.Helper()
	j, err := journal.Open(h.path, journal.Options{TTL: 24 * time.Hour, Now: func() time.Time { return h.now }})
	if err != nil {
		h.t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	o := Options{
		Ledger: h.ledger, Journal: j, Keys: testKeys(), MaxBodyBytes: 64 << 10,
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return h.now }, CommitTimeout: 5 * time.Second, SettleAfter: time.Minute,
		Limits: h.limits, Registry: h.reg,
	}
	if h.opts != nil {
		h.opts(&o)
	}
	srv, err := New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	h.srv, h.journal = srv, j
	h.t.Cleanup(h.close)
}

func (h *harness) close() {
	if h.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Close(ctx)
	_ = h.journal.Close()
	h.srv = nil
}

// restart simulates a gateway restart on the same journal file.
func (h *harness) restart() {
	h.t.Helper()
	h.close()
	h.open()
}

type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func withKey(key string) reqOpt     { return withHeader("Authorization", "Bearer "+key) }

// withContext sends the request with ctx: cancelling it is the client
// going away.
func withContext(ctx context.Context) reqOpt {
	return func(r *http.Request) { *r = *r.WithContext(ctx) }
}

// metrics renders the server's registry as /metrics would.
func (h *harness) metrics() string {
	h.t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func (h *harness) do(method, path, body string, opts ...reqOpt) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+exporterKey)
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// problemOf decodes a problem body and checks its media type and status.
func problemOf(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, rec.Body)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, rec.Body)
	}
	if p.Status != rec.Code || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, rec.Code)
	}
	return p
}

const validCreate = `{"id":"SHP-2026-0001","buyer":"RetailerMSP","carrier":"CarrierMSP","buyerRef":"PO-7781",
"product":{"gtin":"4006381333931","lot":"L-42","description":"Green coffee","quantity":100,"unit":"kg"},
"origin":{"name":"Santos","country":"BR"},"destination":{"name":"Hamburg","country":"DE"},
"coldChain":{"minC":2,"maxC":8,"maxExcursionMinutes":30},"expectedDeliveryAt":"2027-01-10T00:00:00Z"}`

const validCreateWithContact = `{"id":"SHP-2026-0002","buyer":"RetailerMSP","buyerRef":"PO-7782",
"product":{"sku":"COF-1","lot":"L-42","description":"Green coffee","quantity":100,"unit":"kg"},
"origin":{"name":"Santos","country":"BR"},"destination":{"name":"Hamburg","country":"DE"},
"coldChain":{"minC":2,"maxC":8,"maxExcursionMinutes":30},"expectedDeliveryAt":"2027-01-10T00:00:00Z",
"buyerContact":{"phone":"+4915123456789","name":"Anna Schmidt","language":"de","consent":true}}`

const validReadings = `{"readings":[{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":4.5},{"sensorId":"S1","time":"2026-11-23T09:05:00Z","celsius":4.7}]}`
