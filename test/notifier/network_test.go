// Package notifier_test is the notifier's integration test on the local
// Fabric network.
package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"google.golang.org/grpc/status"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/service"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

const (
	token     = "network-token"
	phoneID   = "100000000000001"
	appSecret = "network-secret"

	adminToken  = "network-admin-token"
	phoneRefKey = "network-test-phone-reference-key"
)

// TestNotifierOnTheLocalNetwork runs the notifier against the real local
// Fabric network (events through the exporter peer's gateway, the buyer
// contact through BuyerContact from the exporter's private data) and the
// stand-in, and drives one shipment through ship, breach and delivery.
func TestNotifierOnTheLocalNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local Fabric network")
	}
	net := testnet.Require(t)
	id := testnet.UniqueID("NTF")
	buyerPhone := fmt.Sprintf("+3461%07d", time.Now().UnixNano()%10_000_000)
	opsPhone := fmt.Sprintf("+4930%07d", time.Now().UnixNano()%10_000_000)

	st := wastandin.New(wastandin.Config{Token: token, PhoneNumberID: phoneID, AppSecret: appSecret,
		AutoStatuses: []string{"sent", "delivered", "read"}, StatusDelay: 50 * time.Millisecond})
	ts := httptest.NewServer(st.Handler())
	defer func() { ts.Close(); st.Close() }()

	// Start after the current height: the shared ledger holds other tests'
	// shipments, which are not this test's business.
	var height uint64
	for _, p := range net.Status(t) {
		if p.Kind == "peer" && p.Height > height {
			height = p.Height
		}
	}
	dir := t.TempDir()
	cfg, err := config.Load([]string{
		"--store.path=" + filepath.Join(dir, "notifier.db"),
		"--intake.source=fabric", fmt.Sprintf("--intake.start_block=%d", height-1),
		"--fabric.connection_profile=" + filepath.Join(net.Home, "connection.json"),
		"--contacts.source=fabric",
		"--provider.kind=whatsapp", "--provider.base_url=" + ts.URL, "--provider.phone_number_id=" + phoneID, "--provider.token=" + token,
		"--webhook.addr=127.0.0.1:0", "--webhook.app_secret=" + appSecret, "--webhook.verify_token=verify",
		"--admin.addr=127.0.0.1:0", "--admin.token=" + adminToken, "--health.addr=127.0.0.1:0",
		"--store.phone_ref_key=" + phoneRefKey, "--ops.phone=" + opsPhone, "--sender.per_recipient_interval=0s",
		"--tracking_secret=network-test-tracking-secret-0123456789", "--tracking_url=http://gateway.invalid/track/%s",
		"--log.level=warn",
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	st.SetWebhookURL("http://" + svc.WebhookAddr() + "/webhook")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testnet.Eventually(t, 30*time.Second, "event stream connected", func() bool {
		resp, err := http.Get("http://" + svc.HealthAddr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	contact, _ := json.Marshal(shipment.Contact{Phone: buyerPhone, Name: "Lucía", Language: "es", Consent: true})
	ns := shipment.NewShipment{
		ID: id, Buyer: "RetailerMSP", Carrier: "CarrierMSP", BuyerRef: "PO-" + id,
		Product:            shipment.Product{SKU: "AVO-HASS", Lot: "L-7", Description: "Avocados", Quantity: 20, Unit: "pallet"},
		Origin:             shipment.Place{Name: "Callao", Country: "PE"},
		Destination:        shipment.Place{Name: "Rotterdam", Country: "NL"},
		ColdChain:          shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 0},
		ExpectedDeliveryAt: time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second),
	}
	nsJSON, _ := json.Marshal(ns)
	submit(t, net, "ExporterMSP", "CreateShipment", []string{string(nsJSON)}, nil)
	// The contact is private data of the exporter: sent as transient data
	// and endorsed by the exporter's peer alone.
	submit(t, net, "ExporterMSP", "SetBuyerContact", []string{id}, map[string][]byte{"buyerContact": contact})
	submit(t, net, "ExporterMSP", "Ship", []string{id}, nil)
	submit(t, net, "ExporterMSP", "HandOver", []string{id, "CarrierMSP"}, nil)
	// Readings from the hand-over on (they must fall inside the carrier's
	// custody); the policy allows no excursion, so the first breaches.
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	readings, _ := json.Marshal([]shipment.Reading{
		{SensorID: "logger-1", Time: t0, Celsius: 12.5},
		{SensorID: "logger-1", Time: t0.Add(45 * time.Second), Celsius: 13},
	})
	submit(t, net, "CarrierMSP", "RecordReadings", []string{id, string(readings)}, nil)
	submit(t, net, "CarrierMSP", "HandOver", []string{id, "RetailerMSP"}, nil)
	submit(t, net, "RetailerMSP", "Deliver", []string{id}, nil)

	buyerDigits, opsDigits := notifier.NormalizePhone(buyerPhone), notifier.NormalizePhone(opsPhone)
	mine := func() []wastandin.Record {
		var out []wastandin.Record
		for _, r := range st.Accepted() {
			if r.To == buyerDigits || r.To == opsDigits {
				out = append(out, r)
			}
		}
		return out
	}
	testnet.Eventually(t, 60*time.Second, "4 messages for this shipment", func() bool { return len(mine()) >= 4 })

	type key struct{ to, template, lang string }
	got := map[key]int{}
	for _, r := range mine() {
		got[key{r.To, strings.TrimSuffix(r.Template, "_v2"), r.Language}]++ // either A/B variant of shipped
		var body []string
		for _, c := range r.Components {
			if c.Type == "body" {
				for _, p := range c.Parameters {
					body = append(body, string(p))
				}
			}
		}
		if !strings.Contains(strings.Join(body, " "), id) {
			t.Errorf("%s body %v does not name the shipment", r.Template, body)
		}
		if r.To == buyerDigits && !strings.Contains(strings.Join(body, " "), "Lucía") {
			t.Errorf("%s body %v does not greet the buyer by name", r.Template, body)
		}
	}
	want := map[key]int{
		{buyerDigits, "shipment_shipped", "es"}:   1,
		{buyerDigits, "coldchain_breach", "es"}:   1,
		{buyerDigits, "shipment_delivered", "es"}: 1,
		{opsDigits, "ops_coldchain_breach", "en"}: 1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s %s/%s received %d times, want %d", k.to[:4]+"…", k.template, k.lang, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("received %v, want %v", got, want)
	}

	testnet.Eventually(t, 30*time.Second, "every message read", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+svc.AdminAddr()+"/v1/shipments/"+id+"/notifications", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Notifications []service.View `json:"notifications"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Notifications) != 4 {
			return false
		}
		for _, n := range body.Notifications {
			if n.Status != notifier.StatusRead {
				return false
			}
		}
		return true
	})
	for _, r := range mine() {
		n, err := svc.Store().Get(r.CallbackData)
		if err == nil {
			t.Logf("%s: event-to-send %s (from the transaction timestamp to the stand-in receiving it)", r.Template, r.ReceivedAt.Sub(n.EventTime))
		}
	}
	checkKPIs(t, svc, st, mine(), buyerPhone, buyerDigits)
}

// checkKPIs opens the shipped message's Track link through the notifier's
// redirect and answers as the buyer, then reads GET /v1/kpis: the four
// messages read, one click in the shipped message's cohort, one reply.
// (The notifier may also have told other tests' buyers of the block it
// started in, so reads are at least four; nobody else clicks or replies.)
func checkKPIs(t *testing.T, svc *service.Service, st *wastandin.Server, mine []wastandin.Record, buyerPhone, buyerDigits string) {
	t.Helper()
	var shipped wastandin.Record
	var token string
	for _, r := range mine {
		if r.To == buyerDigits && strings.HasPrefix(r.Template, "shipment_shipped") {
			shipped = r
			for _, c := range r.Components {
				if c.Type == "button" && c.SubType == "url" {
					var p struct{ Text string }
					json.Unmarshal(c.Parameters[0], &p)
					token = p.Text
				}
			}
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + svc.WebhookAddr() + "/t/" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("Track link through the notifier: %d, want 302", resp.StatusCode)
	}
	if err := st.PostInbound(t.Context(), buyerPhone, "gracias"); err != nil {
		t.Fatal(err)
	}
	n, err := svc.Store().Get(shipped.CallbackData)
	if err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 30*time.Second, "KPIs with the click and the reply", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+svc.AdminAddr()+"/v1/kpis", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			KPIs []service.KPIView `json:"kpis"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		var read, clicked, replied, clickedInCohort uint64
		for _, k := range body.KPIs {
			read, clicked, replied = read+k.Read, clicked+k.Clicked, replied+k.Replied
			if k.Template == n.Message.Template && k.Language == n.Message.Language && k.Variant == n.Variant {
				clickedInCohort = k.Clicked
			}
		}
		t.Logf("KPIs: read %d, clicked %d (%d in %s/%s/%s), replied %d", read, clicked, clickedInCohort,
			n.Message.Template, n.Message.Language, n.Variant, replied)
		return read >= 4 && clicked == 1 && clickedInCohort == 1 && replied == 1
	})
}

func submit(t *testing.T, net *testnet.Network, msp, fn string, args []string, transient map[string][]byte) {
	t.Helper()
	opts := []client.ProposalOption{client.WithArguments(args...)}
	if transient != nil {
		opts = append(opts, client.WithTransient(transient), client.WithEndorsingOrganizations(msp))
	}
	_, commit, err := net.Contract(t, msp).SubmitAsync(fn, opts...)
	if err != nil {
		detail := err.Error()
		if st, ok := status.FromError(err); ok {
			for _, d := range st.Details() {
				detail += fmt.Sprintf("; %v", d)
			}
		}
		t.Fatalf("%s %s: %s", msp, fn, detail)
	}
	cs, err := commit.Status()
	if err != nil || !cs.Successful {
		t.Fatalf("%s %s: commit %+v, %v", msp, fn, cs, err)
	}
	// The commit status comes from the submitting org's peer; the next
	// transaction is endorsed by others, which must have this one too or
	// they answer from the state before it (FORBIDDEN for a custodian that
	// has not changed yet, or mismatched endorsements).
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, org := range []string{"ExporterMSP", "CarrierMSP", "RetailerMSP"} {
		if err := testnet.AwaitBlock(ctx, net.Gateway(t, org).GetNetwork(net.Profile.Channel), cs.BlockNumber); err != nil {
			t.Fatalf("%s %s: %s's peer: %v", msp, fn, org, err)
		}
	}
}
