package webhook_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/webhook"
)

// metaWAMID is a message ID shaped like Meta's: base64 that carries the
// number's digits.
func metaWAMID(digits, tail string) string {
	return "wamid.HBgN" + base64.StdEncoding.EncodeToString([]byte(digits)) + tail
}

// The webhook's logs name a sender only by its keyed reference and a
// message only by the keyed reference of its ID, on every path that logs
// one: an applied STOP, a status for an unknown message (debug), and a
// status the store could not record (error).
func TestLogsCarryNeitherNumbersNorMessageIDs(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := webhook.New(webhook.Config{AppSecret: secret}, st, log, nil)

	from := "5511987654321"
	stop, unknown, lost := metaWAMID(from, "FQIAEhgUM0EB"), metaWAMID(from, "FQIAERgSQUJD"), metaWAMID(from, "FQIAERgSREVG")
	send(t, h, inbound(from, "STOP", stop, time.Now().Unix()))
	body := wastandin.StatusPayload("1", "1", unknown, "delivered", from, "", 0)
	if rec := post(t, h, body, wastandin.Sign(secret, body), true); rec.Code != 200 {
		t.Fatalf("status for an unknown message answered %d", rec.Code)
	}
	st.Close() // the next status cannot be recorded
	body = wastandin.StatusPayload("1", "1", lost, "delivered", from, "", 0)
	if rec := post(t, h, body, wastandin.Sign(secret, body), true); rec.Code != 500 {
		t.Fatalf("status on a closed store answered %d, want 500", rec.Code)
	}

	out := logs.String()
	for _, want := range []string{st.PhoneRef(from), st.MessageRef(unknown), st.MessageRef(lost)} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lines missing (no %s):\n%s", want, out)
		}
	}
	for _, secret := range []string{from, from[2:], stop, unknown, lost, base64.StdEncoding.EncodeToString([]byte(from))} {
		if strings.Contains(out, secret) {
			t.Errorf("logs carry %s:\n%s", secret, out)
		}
	}
}
