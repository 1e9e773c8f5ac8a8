// Package crash_test SIGKILLs a real notifier process while it works
// through a stream of events. It is kept apart from the network test so it
// depends on nothing but the notifier and the stand-in.
package crash_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/intake"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

const (
	token     = "crash-token"
	phoneID   = "100000000000001"
	appSecret = "crash-secret"
	opsPhone  = "+4930000000"

	adminToken  = "crash-admin-token"
	phoneRefKey = "crash-test-phone-reference-key-0"
)

// adminGet calls the notifier's admin API with its token.
func adminGet(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return http.DefaultClient.Do(req)
}

// buildNotifier compiles the real command once per test run.
func buildNotifier(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shiptrace-notifier")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/shiptrace/shiptrace/notifier/cmd/shiptrace-notifier")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build notifier: %v", err)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestCrashRecoveryDeliversEveryMessageExactlyOnce streams 1,125 events
// into a real notifier process, SIGKILLs it at random moments while it
// records and sends, restarts it each time, and checks that the stand-in
// received every expected message exactly once.
func TestCrashRecoveryDeliversEveryMessageExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills a real process")
	}
	bin := buildNotifier(t)
	dir := t.TempDir()

	// The stand-in confirms every accepted message with a signed "sent"
	// webhook and, like Meta, keeps retrying while the notifier is down.
	st := wastandin.New(wastandin.Config{Token: token, PhoneNumberID: phoneID, AppSecret: appSecret, AutoStatuses: []string{"sent"}})
	ts := httptest.NewServer(st.Handler())
	defer func() { ts.Close(); st.Close() }()
	webhookAddr, adminAddr, healthAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	st.SetWebhookURL("http://" + webhookAddr + "/webhook")

	const shipments = 500
	contacts := map[string]notifier.Contact{}
	type planned struct {
		block uint64
		tx    string
		ev    shipment.Event
	}
	var events []planned
	expected := map[string]bool{}
	add := func(typ shipment.EventType, id string, roles ...string) {
		b := uint64(len(events)/3 + 1) // three events per block: the checkpoint must tell them apart
		tx := fmt.Sprintf("tx-%05d", len(events))
		events = append(events, planned{b, tx, shipment.Event{Version: 1, Type: typ, ShipmentID: id, Exporter: "ExporterMSP",
			Buyer: "RetailerMSP", Custodian: "CarrierMSP", BuyerRef: "PO-" + id, Time: time.Now().UTC(),
			Product: "Avocados, lot 7", Destination: "Rotterdam, NL"}})
		for _, r := range roles {
			expected[notifier.NotificationID(tx, string(typ), r)] = true
		}
	}
	for i := range shipments {
		id := fmt.Sprintf("C-%04d", i)
		contacts[id] = notifier.Contact{Phone: fmt.Sprintf("+3161%07d", i), Name: "Buyer", Language: "nl", Consent: true}
		add(shipment.EventShipped, id, notifier.RoleBuyer)
	}
	for i := 0; i < shipments; i += 4 {
		add(shipment.EventColdChainBreached, fmt.Sprintf("C-%04d", i), notifier.RoleBuyer, notifier.RoleOps)
	}
	for i := range shipments {
		add(shipment.EventDelivered, fmt.Sprintf("C-%04d", i), notifier.RoleBuyer)
	}
	cb, _ := json.Marshal(contacts)
	contactsFile := filepath.Join(dir, "contacts.json")
	eventsFile := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(contactsFile, cb, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(eventsFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	// Events arrive as a stream while the notifier is being killed.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f, err := os.OpenFile(eventsFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		for i, p := range events {
			payload, _ := json.Marshal(p.ev)
			line, _ := json.Marshal(intake.FileEvent{Block: p.block, TxID: p.tx, Name: string(p.ev.Type), Payload: payload})
			if _, err := f.Write(append(line, '\n')); err != nil {
				t.Error(err)
				return
			}
			if i%25 == 24 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()

	cfgFile := filepath.Join(dir, "notifier.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
exporter_msp: ExporterMSP
store:
  path: %s
intake:
  source: file
  file: %s
  max_event_age: 0s
contacts:
  source: file
  file: %s
provider:
  kind: whatsapp
  base_url: %s
  phone_number_id: "%s"
  timeout: 2s
sender:
  rate_per_second: 150
  per_recipient_interval: 0s
  reconcile_window: 3s
  backoff_base: 50ms
  backoff_max: 500ms
webhook:
  addr: %s
admin:
  addr: %s
health:
  addr: %s
log:
  level: warn
`, filepath.Join(dir, "notifier.db"), eventsFile, contactsFile, ts.URL, phoneID, webhookAddr, adminAddr, healthAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "notifier.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	startProc := func() *exec.Cmd {
		cmd := exec.Command(bin, "--config", cfgFile)
		// Secrets and the ops number come from the environment, as in production.
		cmd.Env = append(os.Environ(),
			"SHIPTRACE_NOTIFIER_PROVIDER_TOKEN="+token,
			"SHIPTRACE_NOTIFIER_WEBHOOK_APP_SECRET="+appSecret,
			"SHIPTRACE_NOTIFIER_WEBHOOK_VERIFY_TOKEN=verify",
			"SHIPTRACE_NOTIFIER_OPS_PHONE="+opsPhone,
			"SHIPTRACE_NOTIFIER_STORE_PHONE_REF_KEY="+phoneRefKey,
			"SHIPTRACE_NOTIFIER_ADMIN_TOKEN="+adminToken)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testnet.Eventually(t, 20*time.Second, "notifier up", func() bool {
			resp, err := http.Get("http://" + healthAddr + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		return cmd
	}
	recovered := func() int {
		resp, err := adminGet("http://" + adminAddr + "/v1/status")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		var s struct {
			Recovered int `json:"recoveredAtStart"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&s)
		return s.Recovered
	}
	inFlightAtKill := 0

	const kills = 6
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	cmd := startProc()
	for k := range kills {
		// A random moment while messages are being recorded and sent.
		time.Sleep(time.Duration(150+rng.IntN(900)) * time.Millisecond)
		before := len(st.Accepted())
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		t.Logf("kill %d: SIGKILL after %d messages accepted", k+1, before)
		cmd = startProc()
		r := recovered()
		inFlightAtKill += r
		t.Logf("restart %d: %d attempts were in flight at the kill (now uncertain, reconciled by webhook or resent)", k+1, r)
	}
	wg.Wait()

	// Let the last notifier finish: everything settled, nothing queued,
	// in flight or awaiting reconciliation.
	testnet.Eventually(t, 120*time.Second, "all notifications settled", func() bool {
		resp, err := adminGet("http://" + adminAddr + "/v1/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var s struct {
			Checkpoint    notifier.Checkpoint     `json:"checkpoint"`
			Notifications map[notifier.Status]int `json:"notifications"`
		}
		if json.NewDecoder(resp.Body).Decode(&s) != nil {
			return false
		}
		last := events[len(events)-1]
		return s.Checkpoint.TxID == last.tx && s.Notifications[notifier.StatusQueued]+s.Notifications[notifier.StatusSending]+s.Notifications[notifier.StatusUncertain] == 0
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()

	got := map[string]int{}
	for _, r := range st.Accepted() {
		got[r.CallbackData]++
	}
	var dups, losses, unexpected []string
	for id, c := range got {
		if c > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", id, c))
		}
		if !expected[id] {
			unexpected = append(unexpected, id)
		}
	}
	for id := range expected {
		if got[id] == 0 {
			losses = append(losses, id)
		}
	}
	sort.Strings(dups)
	sort.Strings(losses)
	t.Logf("%d events, %d kills (%d attempts in flight at a kill), %d messages expected, %d accepted by the stand-in: %d duplicates, %d losses",
		len(events), kills, inFlightAtKill, len(expected), len(st.Accepted()), len(dups), len(losses))
	if len(dups) > 0 {
		t.Errorf("duplicates: %s", strings.Join(dups, ", "))
	}
	if len(losses) > 0 {
		t.Errorf("losses: %s", strings.Join(losses[:min(20, len(losses))], ", "))
	}
	if len(unexpected) > 0 {
		t.Errorf("unexpected messages: %v", unexpected)
	}
	if t.Failed() {
		t.Logf("notifier log: %s", logFile.Name())
	}
}
