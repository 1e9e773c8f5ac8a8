package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/intake"
	"github.com/shiptrace/shiptrace/notifier/service"
	"github.com/shiptrace/shiptrace/shipment"
)

const (
	token     = "standin-token"
	phoneID   = "100000000000001"
	appSecret = "standin-app-secret"
	opsPhone  = "+4930000000"

	adminToken  = "service-test-admin-token"
	phoneRefKey = "service-test-phone-reference-key"
)

// harness runs a notifier in-process against a stand-in over real HTTP,
// with a real bbolt file and an event file the test appends to.
type harness struct {
	t         *testing.T
	standin   *wastandin.Server
	svc       *service.Service
	events    string
	storePath string
	token     string // the admin API's
	mu        sync.Mutex
	block     uint64
	cancel    context.CancelFunc
	done      chan error
}

type option struct {
	args     []string
	standin  wastandin.Config
	source   intake.Source
	contacts map[string]notifier.Contact
	opts     []service.Option // further options (e.g. an anchor ledger)
}

func start(t testing.TB, o option) *harness {
	t.Helper()
	dir := t.TempDir()
	sc := o.standin
	sc.Token, sc.PhoneNumberID, sc.AppSecret = token, phoneID, appSecret
	st := wastandin.New(sc)
	ts := httptest.NewServer(st.Handler())

	events := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	contacts := o.contacts
	if contacts == nil {
		contacts = map[string]notifier.Contact{}
	}
	cb, _ := json.Marshal(contacts)
	contactsFile := filepath.Join(dir, "contacts.json")
	if err := os.WriteFile(contactsFile, cb, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--store.path=" + filepath.Join(dir, "notifier.db"),
		"--intake.source=file", "--intake.file=" + events, "--intake.max_event_age=0s",
		"--contacts.source=file", "--contacts.file=" + contactsFile,
		"--provider.kind=whatsapp", "--provider.base_url=" + ts.URL, "--provider.phone_number_id=" + phoneID,
		"--provider.token=" + token, "--provider.timeout=2s",
		"--webhook.addr=127.0.0.1:0", "--webhook.app_secret=" + appSecret, "--webhook.verify_token=verify",
		"--admin.addr=127.0.0.1:0", "--admin.token=" + adminToken, "--health.addr=127.0.0.1:0",
		"--store.phone_ref_key=" + phoneRefKey, "--ops.phone=" + opsPhone,
		"--sender.per_recipient_interval=0s", "--sender.backoff_base=50ms", "--sender.backoff_max=500ms",
		"--log.level=error",
	}
	cfg, err := config.Load(append(args, o.args...))
	if err != nil {
		t.Fatal(err)
	}
	var opts []service.Option
	if o.source != nil {
		opts = append(opts, service.WithSource(o.source))
	}
	opts = append(opts, o.opts...)
	svc, err := service.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), opts...)
	if err != nil {
		t.Fatal(err)
	}
	st.SetWebhookURL("http://" + svc.WebhookAddr() + "/webhook")
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{standin: st, svc: svc, events: events, storePath: cfg.Store.Path, token: cfg.Admin.Token,
		cancel: cancel, done: make(chan error, 1)}
	if tt, ok := t.(*testing.T); ok {
		h.t = tt
	}
	go func() { h.done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.done
		svc.Close()
		ts.Close()
		st.Close()
	})
	return h
}

// emit appends an event to the event file, each in its own block.
func (h *harness) emit(t testing.TB, ev shipment.Event) string {
	t.Helper()
	h.mu.Lock()
	h.block++
	b := h.block
	h.mu.Unlock()
	payload, _ := json.Marshal(ev)
	tx := fmt.Sprintf("tx%06d-%s", b, ev.Type)
	line, _ := json.Marshal(intake.FileEvent{Block: b, TxID: tx, Name: string(ev.Type), Payload: payload})
	f, err := os.OpenFile(h.events, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
	return tx
}

func event(typ shipment.EventType, id string) shipment.Event {
	min, max := 1.5, 11.25
	ev := shipment.Event{
		Version: 1, Type: typ, ShipmentID: id, Exporter: "ExporterMSP", Carrier: "CarrierMSP", Buyer: "RetailerMSP",
		Custodian: "CarrierMSP", BuyerRef: "PO-" + id, Time: time.Now().UTC(), Product: "Green coffee, lot L-42",
		Destination: "Hamburg, DE", ExpectedDeliveryAt: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC),
	}
	if typ == shipment.EventColdChainBreached {
		ev.ColdChain = &shipment.EventColdChain{State: "BREACHED", MinC: &min, MaxC: &max}
	}
	return ev
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// admin calls the admin API with its token.
func (h *harness) admin(t testing.TB, path string) (int, string) {
	t.Helper()
	return get(t, "http://"+h.svc.AdminAddr()+path, h.token)
}

func (h *harness) notifications(t testing.TB, shipmentID string) []service.View {
	t.Helper()
	code, b := h.admin(t, "/v1/shipments/"+shipmentID+"/notifications")
	if code != http.StatusOK {
		t.Fatalf("listing of %s: %d %s", shipmentID, code, b)
	}
	var body struct {
		Notifications []service.View `json:"notifications"`
	}
	if err := json.Unmarshal([]byte(b), &body); err != nil {
		t.Fatal(err)
	}
	return body.Notifications
}

// bucketJitter is the least delivery delay spread with which the arrival
// times of recs fit a token bucket of rate r per second and burst b.
//
// A token bucket guarantees that the times it releases requests satisfy,
// for any window of length w, count ≤ b + r·w. The stand-in sees each
// request some delay d after its release (the worker's wake-up, the HTTP
// round trip), with d between dmin and dmax, so arrivals in a window of
// length w were released within w + (dmax − dmin): count ≤ b + r·(w + J)
// with J = dmax − dmin. Scheduling under load stretches J, which is why
// counting arrivals in a one-second window against r + b is flaky; the
// jitter a run needed is what the test can bound instead.
func bucketJitter(recs []wastandin.Record, r float64, b int) time.Duration {
	ts := make([]time.Time, len(recs))
	for i, rec := range recs {
		ts[i] = rec.ReceivedAt
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var worst time.Duration
	for i := range ts {
		for j := i + b; j < len(ts); j++ { // windows of at most b arrivals always fit
			released := time.Duration(float64(j-i+1-b) / r * float64(time.Second))
			worst = max(worst, released-ts[j].Sub(ts[i]))
		}
	}
	return worst
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
