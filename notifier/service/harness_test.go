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

// maxInWindow is the most records received within any window.
func maxInWindow(recs []wastandin.Record, window time.Duration) int {
	ts := make([]time.Time, len(recs))
	for i, r := range recs {
		ts[i] = r.ReceivedAt
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
