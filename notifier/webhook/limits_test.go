package webhook_test

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/webhook"
)

func TestAWebhookOfTwoMegabytesIsRead(t *testing.T) {
	h, st := newHandler(t)
	// Meta documents payloads of up to 3 MB: a batch of statuses and
	// messages of 2 MB must be read, not refused and retried forever.
	var p map[string]any
	_ = json.Unmarshal(inbound("34600000001", "STOP", "wamid.big", time.Now().Unix()), &p)
	change := p["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
	change["padding"] = strings.Repeat("x", 2<<20)
	body, _ := json.Marshal(p)
	send(t, h, body)
	if !optedOut(t, st, "+34600000001") {
		t.Error("the STOP in a 2 MB webhook was not applied")
	}
	huge := append(body[:len(body)-1:len(body)-1], []byte(`,"more":"`+strings.Repeat("y", 5<<20)+`"}`)...)
	if rec := post(t, h, huge, wastandin.Sign(secret, huge), true); rec.Code != 413 {
		t.Errorf("a 7 MB body answered %d, want 413", rec.Code)
	}
}

func withObject(t *testing.T, body []byte, object, phoneNumberID string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	p["object"] = object
	value := p["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
	value["metadata"] = map[string]any{"display_phone_number": "1", "phone_number_id": phoneNumberID}
	b, _ := json.Marshal(p)
	return b
}

func TestWebhooksForAnotherObjectOrPhoneNumberAreIgnored(t *testing.T) {
	st, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := webhook.New(webhook.Config{VerifyToken: "v", AppSecret: secret, PhoneNumberID: "100000000000001"}, st, slog.New(slog.DiscardHandler), nil)
	stop := inbound("34600000001", "STOP", "wamid.x", time.Now().Unix())
	send(t, h, withObject(t, stop, "page", "100000000000001"))
	if optedOut(t, st, "+34600000001") {
		t.Error("a STOP in a webhook for object page was applied")
	}
	send(t, h, withObject(t, inbound("34600000001", "STOP", "wamid.y", time.Now().Unix()), "whatsapp_business_account", "999"))
	if optedOut(t, st, "+34600000001") {
		t.Error("a STOP to another business phone number was applied")
	}
	send(t, h, withObject(t, inbound("34600000001", "STOP", "wamid.z", time.Now().Unix()), "whatsapp_business_account", "100000000000001"))
	if !optedOut(t, st, "+34600000001") {
		t.Error("a STOP to our phone number was not applied")
	}
}
