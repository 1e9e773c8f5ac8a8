package notifier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/shipment"
)

// chat is a buyer writing to the exporter's number through the running
// system's stand-in, which posts signed webhooks to the notifier.
type chat struct {
	t      testing.TB
	sys    *walk.System
	phone  string
	digits string
}

// records reads everything the stand-in received.
func (c *chat) records(ctx context.Context) []wastandin.Record {
	c.t.Helper()
	var recs []wastandin.Record
	if err := walk.GetJSON(ctx, c.sys.StandinURL+"/_standin/messages", &recs); err != nil {
		c.t.Fatalf("stand-in messages: %v", err)
	}
	return recs
}

// post makes the stand-in deliver the buyer's message to the notifier's
// webhook; it returns once the notifier answered the webhook.
func (c *chat) post(ctx context.Context, in wastandin.Inbound) {
	c.t.Helper()
	in.From = c.phone
	b, _ := json.Marshal(in)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.sys.StandinURL+"/_standin/inbound", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("post inbound: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("post inbound: %s", resp.Status)
	}
}

// say posts the buyer's message and waits for the next free-form reply to
// the buyer, accepted by the stand-in (so validated like every send).
func (c *chat) say(ctx context.Context, in wastandin.Inbound) wastandin.Record {
	c.t.Helper()
	last := 0
	for _, r := range c.records(ctx) {
		last = max(last, r.Seq)
	}
	c.post(ctx, in)
	return c.next(ctx, last)
}

// next waits for the first free-form message to the buyer after seq.
func (c *chat) next(ctx context.Context, after int) wastandin.Record {
	c.t.Helper()
	var got wastandin.Record
	err := walk.Eventually(ctx, 30*time.Second, 50*time.Millisecond, func() error {
		for _, r := range c.records(ctx) {
			if r.Seq > after && r.To == c.digits && r.Type != "" && r.Type != "template" {
				if !r.Accepted {
					return fmt.Errorf("the stand-in refused the reply: %d %s", r.ErrorCode, r.Body)
				}
				got = r
				return nil
			}
		}
		return fmt.Errorf("no reply to the buyer after message %d", after)
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return got
}

// upload stores a photo at the stand-in, as the buyer's WhatsApp would,
// and returns its media ID.
func (c *chat) upload(ctx context.Context, mime string, data []byte) string {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.sys.StandinURL+"/_standin/media", bytes.NewReader(data))
	req.Header.Set("Content-Type", mime)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("upload media: %v", err)
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.ID == "" {
		c.t.Fatalf("upload media: %s %v", resp.Status, err)
	}
	return out.ID
}

// coffeeShipment is the create request of a green-coffee shipment from
// Santos to Hamburg, the exporter's to the retailer through the carrier,
// with contact as its buyer contact.
func coffeeShipment(id string, contact shipment.Contact) map[string]any {
	return map[string]any{
		"id": id, "buyer": "RetailerMSP", "carrier": "CarrierMSP", "buyerRef": "PO-" + id,
		"product":            map[string]any{"sku": "COF-GRN-60", "lot": "L-42", "description": "Green coffee", "quantity": 60, "unit": "bag"},
		"origin":             map[string]any{"name": "Santos", "country": "BR"},
		"destination":        map[string]any{"name": "Hamburg", "country": "DE"},
		"coldChain":          map[string]any{"minC": 2, "maxC": 8, "maxExcursionMinutes": 30},
		"expectedDeliveryAt": time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second),
		"buyerContact":       contact,
	}
}

// createShipment creates and ships a shipment with a buyer contact through
// the exporter's gateway and waits for the buyer's shipped message, after
// which the notifier knows the number as the buyer of the shipment.
func createShipment(t testing.TB, sys *walk.System, id string, contact shipment.Contact) {
	t.Helper()
	c := sys.Client()
	create := coffeeShipment(id, contact)
	for _, step := range []struct {
		member, method, path string
		body                 any
	}{{"exporter", "POST", "/v1/shipments", create}, {"exporter", "POST", "/v1/shipments/" + id + "/ship", nil}} {
		r, err := c.Do(t.Context(), step.member, step.method, step.path, step.body, nil)
		if err != nil || r.Status/100 != 2 {
			t.Fatalf("%s %s: %v %v", step.method, step.path, err, r)
		}
	}
	waitTemplate(t, sys, walk.Digits(contact.Phone), "shipment_shipped")
}

// waitTemplate waits until the stand-in accepted template name to digits.
func waitTemplate(t testing.TB, sys *walk.System, digits, name string) wastandin.Record {
	t.Helper()
	var got wastandin.Record
	err := walk.Eventually(t.Context(), 60*time.Second, 100*time.Millisecond, func() error {
		var recs []wastandin.Record
		if err := walk.GetJSON(t.Context(), sys.StandinURL+"/_standin/messages", &recs); err != nil {
			return err
		}
		for _, r := range recs {
			if r.Accepted && r.To == digits && walk.SameTemplate(r.Template, name) {
				got = r
				return nil
			}
		}
		return fmt.Errorf("no %s message yet", name)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
