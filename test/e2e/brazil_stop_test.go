package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestStopFromABrazilianNumber is issue 13's acceptance on the running
// system: a Brazilian buyer whose number is written with the mobile ninth
// digit, and whose WhatsApp account (like one registered before the ninth
// digit, as the stand-in models Meta's documented behaviour) has a wa_id
// without it, gets the shipped message, writes STOP, and the delivery that
// follows sends nothing.
func TestStopFromABrazilianNumber(t *testing.T) {
	_, sys := system(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := readyClient(t, ctx, sys)
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	local := fmt.Sprintf("%08d", n.Int64())
	number, waID := "+55119"+local, "5511"+local // São Paulo mobile; the account's wa_id lacks the 9
	id := walk.NewID("BRSTOP")
	contact := shipment.Contact{Phone: number, Name: "Ana", Language: "pt-BR", Consent: true}

	if _, err := c.Create(ctx, walk.NewShipment(id, &contact), walk.NewID("create")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "exporter", id, "ship", nil, ""); err != nil {
		t.Fatal(err)
	}
	var shipped wastandin.Record
	if err := walk.Eventually(ctx, time.Minute, 200*time.Millisecond, func() error {
		var recs []wastandin.Record
		if err := walk.GetJSON(ctx, sys.StandinURL+"/_standin/messages?accepted=true", &recs); err != nil {
			return err
		}
		for _, r := range recs {
			if r.To == walk.Digits(number) && walk.SameTemplate(r.Template, "shipment_shipped") {
				shipped = r
				return nil
			}
		}
		return fmt.Errorf("no shipped message to the buyer yet")
	}); err != nil {
		t.Fatal(err)
	}
	if shipped.WaID != waID || shipped.Language != "pt_BR" {
		t.Fatalf("shipped message reached wa_id %s in %s; the test needs wa_id %s (no ninth digit), pt_BR", shipped.WaID, shipped.Language, waID)
	}

	// The buyer answers STOP; WhatsApp's webhook carries the wa_id.
	body, _ := json.Marshal(map[string]string{"from": number, "text": "STOP"})
	resp, err := http.Post(sys.StandinURL+"/_standin/inbound", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("stand-in inbound answered %s", resp.Status)
	}

	if _, err := c.Act(ctx, "exporter", id, "handover", map[string]string{"toMSP": "CarrierMSP"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "carrier", id, "handover", map[string]string{"toMSP": "RetailerMSP"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "retailer", id, "deliver", nil, ""); err != nil {
		t.Fatal(err)
	}
	var delivered walk.Notification
	if err := walk.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		ns, err := sys.Notifications(ctx, id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.EventType == string(shipment.EventDelivered) && n.Status != "queued" && n.Status != "sending" && n.Status != "uncertain" {
				delivered = n
				return nil
			}
		}
		return fmt.Errorf("delivered notification not settled yet")
	}); err != nil {
		t.Fatal(err)
	}
	if delivered.Status != "skipped" || delivered.Reason != "opted_out" {
		t.Errorf("delivered notification %s %q, want skipped opted_out", delivered.Status, delivered.Reason)
	}
	msgs, err := walk.Messages(ctx, sys.StandinURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range walk.About(msgs, id) {
		if m.To == walk.Digits(number) && !walk.SameTemplate(m.Template, "shipment_shipped") {
			t.Errorf("after STOP the buyer received %s", m.Template)
		}
	}
}
