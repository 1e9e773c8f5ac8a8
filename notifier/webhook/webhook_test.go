package webhook_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/webhook"
)

const secret = "app-secret"

func newHandler(t *testing.T) (*webhook.Handler, *outbox.Store) {
	t.Helper()
	st, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return webhook.New(webhook.Config{VerifyToken: "verify-me", AppSecret: secret}, st, slog.New(slog.DiscardHandler), nil), st
}

func post(t *testing.T, h http.Handler, body []byte, sig string, setSig bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(string(body)))
	if setSig {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestVerificationHandshake(t *testing.T) {
	h, _ := newHandler(t)
	tests := []struct {
		name, query string
		status      int
		body        string
	}{
		{"matching token echoes the challenge", "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", 200, "1158201444"},
		{"wrong token is refused", "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1", 403, ""},
		{"wrong mode is refused", "hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", 403, ""},
		{"missing token is refused", "hub.mode=subscribe&hub.challenge=1", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhook?"+tt.query, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tt.body)
			}
		})
	}
}

func TestSignatureChecks(t *testing.T) {
	h, _ := newHandler(t)
	body := wastandin.InboundTextPayload("1", "1", "34600000001", "hello")
	tests := []struct {
		name   string
		body   []byte
		sig    string
		setSig bool
		status int
	}{
		{"valid signature is accepted", body, wastandin.Sign(secret, body), true, 200},
		{"wrong secret is forbidden", body, wastandin.Sign("other-secret", body), true, 403},
		{"tampered body is forbidden", append([]byte(" "), body...), wastandin.Sign(secret, body), true, 403},
		{"missing header is unauthorized", body, "", false, 401},
		{"header without sha256= prefix is forbidden", body, strings.TrimPrefix(wastandin.Sign(secret, body), "sha256="), true, 403},
		{"non-hex signature is forbidden", body, "sha256=zz", true, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rec := post(t, h, tt.body, tt.sig, tt.setSig); rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
		})
	}
}

func TestInboundOptOutWords(t *testing.T) {
	tests := []struct {
		text    string
		optsOut bool
	}{
		{"STOP", true},
		{"stop", true},
		{"  Stop! ", true},
		{"Parar", true},
		{"arrêt", true},
		{"ABMELDEN", true},
		{"baja", true},
		{"please don't stop the truck", false},
		{"thanks", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			h, st := newHandler(t)
			body := wastandin.InboundTextPayload("1", "1", "34600000001", tt.text)
			if rec := post(t, h, body, wastandin.Sign(secret, body), true); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			got, err := st.OptedOut("+34600000001")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.optsOut {
				t.Errorf("opted out = %v, want %v", got, tt.optsOut)
			}
		})
	}
}

func TestStartUndoesOptOut(t *testing.T) {
	h, st := newHandler(t)
	for _, text := range []string{"STOP", "START"} {
		body := wastandin.InboundTextPayload("1", "1", "34600000001", text)
		post(t, h, body, wastandin.Sign(secret, body), true)
	}
	if out, _ := st.OptedOut("34600000001"); out {
		t.Error("START did not undo the opt-out")
	}
}

func TestConfiguredOptOutWordsReplaceDefaults(t *testing.T) {
	st, _ := outbox.Open(filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	h := webhook.New(webhook.Config{VerifyToken: "v", AppSecret: secret, OptOutWords: []string{"HALT"}}, st, slog.New(slog.DiscardHandler), nil)
	for _, text := range []string{"STOP", "halt"} {
		body := wastandin.InboundTextPayload("1", "1", "15550001111", text)
		post(t, h, body, wastandin.Sign(secret, body), true)
		out, _ := st.OptedOut("15550001111")
		if want := text == "halt"; out != want {
			t.Errorf("after %q opted out = %v, want %v", text, out, want)
		}
	}
}

func TestStatusesMoveNotificationsForwardOnly(t *testing.T) {
	h, st := newHandler(t)
	ctx := t.Context()
	n := notifier.Notification{ID: "tx1/shipment.shipped/buyer", ShipmentID: "S", Recipient: "buyer", Phone: "+34600000001", Status: notifier.StatusQueued, EventTime: time.Now()}
	if _, err := st.Record(ctx, notifier.Checkpoint{Block: 1, TxID: "tx1"}, func(outbox.View) []notifier.Notification { return []notifier.Notification{n} }); err != nil {
		t.Fatal(err)
	}
	claimed, _ := st.Claim(10, nil)
	if _, err := st.Finish(outbox.Result{ID: claimed[0].ID, Status: notifier.StatusSent, WAMID: "wamid.A", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		status string
		want   notifier.Status
	}{{"delivered", notifier.StatusDelivered}, {"read", notifier.StatusRead}, {"delivered", notifier.StatusRead}, {"sent", notifier.StatusRead}, {"failed", notifier.StatusRead}} {
		body := wastandin.StatusPayload("1", "1", "wamid.A", step.status, "34600000001", "", 0)
		if rec := post(t, h, body, wastandin.Sign(secret, body), true); rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		got, _ := st.Get(n.ID)
		if got.Status != step.want {
			t.Errorf("after %s: status %s, want %s", step.status, got.Status, step.want)
		}
	}
}

func TestFailedStatusRecordsMetaCode(t *testing.T) {
	h, st := newHandler(t)
	n := notifier.Notification{ID: "tx2/shipment.shipped/buyer", ShipmentID: "S", Recipient: "buyer", Status: notifier.StatusQueued}
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx2"}, func(outbox.View) []notifier.Notification { return []notifier.Notification{n} })
	c, _ := st.Claim(1, nil)
	st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: "wamid.B", At: time.Now()})
	body := wastandin.StatusPayload("1", "1", "wamid.B", "failed", "34600000001", "", 131026)
	post(t, h, body, wastandin.Sign(secret, body), true)
	got, _ := st.Get(n.ID)
	if got.Status != notifier.StatusFailed || got.ErrorCode != 131026 {
		t.Errorf("got %s code %d", got.Status, got.ErrorCode)
	}
}

func TestUnknownMessageStatusIsAcknowledged(t *testing.T) {
	h, _ := newHandler(t)
	body := wastandin.StatusPayload("1", "1", "wamid.unknown", "delivered", "1", "", 0)
	rec := post(t, h, body, wastandin.Sign(secret, body), true)
	if rec.Code != 200 {
		b, _ := io.ReadAll(rec.Body)
		t.Errorf("status %d: %s", rec.Code, b)
	}
}
