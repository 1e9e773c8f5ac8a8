package webhook_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/webhook"
)

// inbound is a signed-ready inbound text webhook with a chosen message ID
// and timestamp (ts 0: no timestamp), as Meta documents it.
func inbound(from, text, id string, ts int64) []byte {
	msg := map[string]any{"from": from, "id": id, "type": "text", "text": map[string]any{"body": text}}
	if ts != 0 {
		msg["timestamp"] = fmt.Sprint(ts)
	}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "1", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "1", "phone_number_id": "1"},
			"contacts":          []any{map[string]any{"wa_id": from}},
			"messages":          []any{msg},
		}}}}},
	})
	return b
}

func send(t *testing.T, h *webhook.Handler, body []byte) {
	t.Helper()
	if rec := post(t, h, body, wastandin.Sign(secret, body), true); rec.Code != 200 {
		t.Fatalf("webhook answered %d: %s", rec.Code, rec.Body)
	}
}

func optedOut(t *testing.T, st *outbox.Store, number string) bool {
	t.Helper()
	out, err := st.OptedOut(number)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStopFromABrazilianWAIDWithoutTheNinthDigitOptsOutTheNumber(t *testing.T) {
	h, st := newHandler(t)
	// The buyer's number has the ninth digit; their account, registered
	// before it existed, writes from the wa_id without it.
	send(t, h, inbound("551187654321", "STOP", "wamid.stop1", time.Now().Unix()))
	if !optedOut(t, st, "+5511987654321") {
		t.Error("STOP from wa_id 551187654321 did not opt out +55 11 98765-4321")
	}
}

func TestStopFromTheWAIDOfAStatusWebhookOptsOutTheNumberSentTo(t *testing.T) {
	h, st := newHandler(t)
	n := notifier.Notification{ID: "tx9/shipment.shipped/buyer", ShipmentID: "S", Recipient: "buyer", Phone: "+4915112345678", Status: notifier.StatusQueued, EventTime: time.Now()}
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx9"}, func(outbox.View) []notifier.Notification { return []notifier.Notification{n} }); err != nil {
		t.Fatal(err)
	}
	c, _ := st.Claim(1, nil)
	if _, err := st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: "wamid.S", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// WhatsApp delivered to a wa_id that is no form of the number.
	send(t, h, wastandin.StatusPayload("1", "1", "wamid.S", "delivered", "4915199999999", "", 0))
	send(t, h, inbound("4915199999999", "STOP", "wamid.stop2", time.Now().Unix()))
	if !optedOut(t, st, "+4915112345678") {
		t.Error("STOP from the recipient_id of the number's status webhook did not opt the number out")
	}
}

func TestOlderStartArrivingAfterAStopDoesNotResubscribe(t *testing.T) {
	h, st := newHandler(t)
	now := time.Now().Unix()
	send(t, h, inbound("34600000001", "STOP", "wamid.new-stop", now))
	send(t, h, inbound("34600000001", "START", "wamid.old-start", now-60)) // written a minute before the STOP, delivered late
	if !optedOut(t, st, "+34600000001") {
		t.Error("a START written before the STOP re-subscribed the buyer")
	}
	send(t, h, inbound("34600000001", "START", "wamid.new-start", now+60))
	if optedOut(t, st, "+34600000001") {
		t.Error("a START written after the STOP did not re-subscribe the buyer")
	}
}

type countingObserver struct{ optOuts int }

func (o *countingObserver) Request(string)                                             {}
func (o *countingObserver) StatusChanged(notifier.Notification, notifier.Notification) {}
func (o *countingObserver) OptOut()                                                    { o.optOuts++ }

func TestRedeliveredConsentMessagesAreAppliedOnce(t *testing.T) {
	st, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	obs := &countingObserver{}
	h := webhook.New(webhook.Config{VerifyToken: "v", AppSecret: secret}, st, slog.New(slog.DiscardHandler), obs)
	now := time.Now().Unix()
	stop := inbound("34600000001", "STOP", "wamid.A", now)
	send(t, h, stop)
	send(t, h, inbound("34600000001", "START", "wamid.B", now)) // same second, written after
	send(t, h, stop)                                            // Meta redelivers the STOP
	if optedOut(t, st, "+34600000001") {
		t.Error("a redelivered STOP undid the START that followed it")
	}
	if obs.optOuts != 1 {
		t.Errorf("%d opt-outs counted for one STOP", obs.optOuts)
	}
}

func TestOptInWithoutATimestampIsIgnored(t *testing.T) {
	h, st := newHandler(t)
	send(t, h, inbound("34600000001", "STOP", "wamid.C", time.Now().Unix()))
	send(t, h, inbound("34600000001", "START", "wamid.D", 0))
	if !optedOut(t, st, "+34600000001") {
		t.Error("an opt-in that cannot be ordered undid an opt-out")
	}
}
