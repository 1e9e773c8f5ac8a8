// Package e2e_test drives the running system (started the way the README
// starts it, `shipnet up`) only through its public interfaces: the gateway's
// REST API with the three members' API keys, the WhatsApp stand-in's record
// of what it received, the notifier's admin listing, and the ledger through
// a fabric-gateway client.
package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

func system(t *testing.T) (*testnet.Network, *walk.System) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the running local system")
	}
	net := testnet.Require(t)
	return net, net.System(t)
}

// TestWalkthrough runs the README walk-through and checks every public
// trace it leaves: the ledger (read back through the gateway as another
// member, and directly through fabric-gateway), each shipment's history,
// the readings, and the WhatsApp messages: exactly the expected ones, each
// once, with the right template, language, recipient and parameters, and
// their statuses reaching "read" in the notifier's listing.
func TestWalkthrough(t *testing.T) {
	net, sys := system(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := readyClient(t, ctx, sys)

	start := time.Now()
	res, err := walk.Run(ctx, c, "E2E", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("walk-through: %d writes in %s", len(res.Delivered.Steps)+len(res.Breached.Steps), time.Since(start).Round(time.Millisecond))
	a, b := res.Delivered, res.Breached

	t.Run("ledger", func(t *testing.T) {
		// Read as the carrier: another organisation than the last writer.
		got, err := c.Shipment(ctx, "carrier", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		req := walk.NewShipment(a.ID, nil)
		if got.Status != shipment.StatusDelivered || got.Custodian != "RetailerMSP" || got.Exporter != "ExporterMSP" ||
			got.Carrier != "CarrierMSP" || got.Buyer != "RetailerMSP" {
			t.Errorf("%s: status %s custodian %s exporter %s carrier %s buyer %s", a.ID, got.Status, got.Custodian, got.Exporter, got.Carrier, got.Buyer)
		}
		if got.UpdatedTx != a.DeliverTx || got.UpdatedBy != "RetailerMSP" || got.Version != int64(len(a.Steps)) {
			t.Errorf("%s: last change %s by %s at version %d, want the delivery %s by RetailerMSP at version %d (one per write)",
				a.ID, got.UpdatedTx, got.UpdatedBy, got.Version, a.DeliverTx, len(a.Steps))
		}
		if got.Product != req.Product || got.Destination != req.Destination || !got.ExpectedDeliveryAt.Equal(req.ExpectedDeliveryAt) {
			t.Errorf("%s: product %+v destination %+v expected %s", a.ID, got.Product, got.Destination, got.ExpectedDeliveryAt)
		}
		cert := walk.Certificate(a.ID)
		if len(got.Documents) != 1 || got.Documents[0].Type != cert["type"] || got.Documents[0].SHA256 != cert["sha256"] ||
			got.Documents[0].URI != cert["uri"] || got.Documents[0].AddedBy != "ExporterMSP" {
			t.Errorf("%s: documents %+v, want the certificate of origin added by ExporterMSP", a.ID, got.Documents)
		}
		if cc := got.ColdChain; cc.State != shipment.ColdChainOK || cc.Count != int64(len(a.Readings)) ||
			cc.MinC == nil || *cc.MinC != 4.0 || cc.MaxC == nil || *cc.MaxC != 5.5 {
			t.Errorf("%s: cold chain %+v, want OK over %d readings, 4.0..5.5 °C", a.ID, cc, len(a.Readings))
		}
		if s := got.Settlement; s == nil || s.Outcome != shipment.OutcomeRelease || !s.Final ||
			s.ReleaseMinor != 1_234_567 || s.RefundMinor != 0 || s.DaysLate != 0 {
			t.Errorf("%s: settlement %+v, want a final RELEASE of 1234567", a.ID, got.Settlement)
		}
		if got.ShippedAt.IsZero() || got.DeliveredAt.Before(got.ShippedAt) || time.Since(got.DeliveredAt) > 10*time.Minute {
			t.Errorf("%s: shipped %s delivered %s", a.ID, got.ShippedAt, got.DeliveredAt)
		}

		gotB, err := c.Shipment(ctx, "exporter", b.ID)
		if err != nil {
			t.Fatal(err)
		}
		breachAt := b.Readings[2].Time
		if gotB.Status != shipment.StatusRejected || gotB.ColdChain.State != shipment.ColdChainBreached ||
			!gotB.ColdChain.BreachedAt.Equal(breachAt) || gotB.ColdChain.BreachReason == "" || gotB.Reason == "" {
			t.Errorf("%s: status %s cold chain %s breached at %s (%q) reason %q; want REJECTED, BREACHED at %s",
				b.ID, gotB.Status, gotB.ColdChain.State, gotB.ColdChain.BreachedAt, gotB.ColdChain.BreachReason, gotB.Reason, breachAt)
		}
		if s := gotB.Settlement; s == nil || s.Outcome != shipment.OutcomeFullRefund || s.RefundMinor != 1_234_567 || s.ReleaseMinor != 0 {
			t.Errorf("%s: settlement %+v, want a FULL_REFUND of 1234567", b.ID, gotB.Settlement)
		}

		// The same record straight from a peer through fabric-gateway, as the
		// retailer: the gateway shows the ledger, not a cache.
		raw, err := net.Contract(t, "RetailerMSP").EvaluateTransaction("ReadShipment", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var direct shipment.Shipment
		if err := json.Unmarshal(raw, &direct); err != nil {
			t.Fatal(err)
		}
		if direct.UpdatedTx != got.UpdatedTx || direct.Status != got.Status || direct.ColdChain.Count != got.ColdChain.Count {
			t.Errorf("fabric-gateway ReadShipment: tx %s status %s count %d; REST: tx %s status %s count %d",
				direct.UpdatedTx, direct.Status, direct.ColdChain.Count, got.UpdatedTx, got.Status, got.ColdChain.Count)
		}

		// A finished shipment refuses another delivery with the contract's code.
		r, err := c.Do(ctx, "retailer", http.MethodPost, "/v1/shipments/"+a.ID+"/deliver", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusConflict || r.Problem().Code != "CONFLICT" {
			t.Errorf("second delivery: %d %s, want 409 CONFLICT", r.Status, r.Problem().Code)
		}
	})

	t.Run("history", func(t *testing.T) {
		for _, s := range []*walk.Story{a, b} {
			h, err := c.History(ctx, "retailer", s.ID)
			if err != nil {
				t.Fatal(err)
			}
			var changes []walk.Step // a readings batch of registered sensors is not a version of the record
			for _, st := range s.Steps {
				if !st.BesideRecord {
					changes = append(changes, st)
				}
			}
			if len(h) != len(changes) {
				t.Errorf("%s: %d history entries, want one per change of the record (%d of %d writes)", s.ID, len(h), len(changes), len(s.Steps))
				for _, e := range h {
					t.Logf("  %s %s %s %s", e.Time.Format(time.RFC3339Nano), e.MSPID, e.TxID, e.Shipment.Status)
				}
				continue
			}
			for i, e := range h {
				st := changes[i]
				if e.TxID != st.TxID || e.MSPID != walk.Members[st.Member] || e.Shipment.Status != st.Status {
					t.Errorf("%s history[%d]: tx %s by %s status %s; want %s: tx %s by %s status %s",
						s.ID, i, e.TxID, e.MSPID, e.Shipment.Status, st.Name, st.TxID, walk.Members[st.Member], st.Status)
				}
				if i > 0 && e.Time.Before(h[i-1].Time) {
					t.Errorf("%s history[%d] at %s is before the previous entry (%s)", s.ID, i, e.Time, h[i-1].Time)
				}
			}
		}
	})

	t.Run("readings", func(t *testing.T) {
		r, err := c.Expect(ctx, http.StatusOK, "retailer", http.MethodGet, "/v1/shipments/"+a.ID+"/readings?pageSize=100", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items      []shipment.Reading `json:"items"`
			NextCursor string             `json:"nextCursor"`
		}
		if err := r.Decode(&page); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(a.Readings)
		slices.SortFunc(want, shipment.CompareReadings)
		if len(page.Items) != len(want) || page.NextCursor != "" {
			t.Fatalf("%d readings (next %q), want %d on one page", len(page.Items), page.NextCursor, len(want))
		}
		for i := range want {
			if page.Items[i].SensorID != want[i].SensorID || !page.Items[i].Time.Equal(want[i].Time) || page.Items[i].Celsius != want[i].Celsius {
				t.Errorf("reading %d: %+v, want %+v", i, page.Items[i], want[i])
			}
		}
	})

	t.Run("whatsapp", func(t *testing.T) {
		want := res.Expected()
		var msgs []walk.Message
		waited := time.Now()
		err := walk.Eventually(ctx, 3*time.Minute, 200*time.Millisecond, func() error {
			var err error
			if msgs, err = walk.Messages(ctx, sys.StandinURL); err != nil {
				return err
			}
			if tl := walk.Check(msgs, want); len(tl.Missing) > 0 {
				return errorString(tl.String())
			}
			return nil
		})
		if err != nil {
			t.Fatalf("stand-in did not receive every expected message: %v", err)
		}
		t.Logf("all %d messages at the stand-in %s after the last write", len(want), time.Since(waited).Round(time.Millisecond))

		// Wait for every notification to be read (so no attempt is still
		// open), then count again: exactly once each, nothing else.
		byID := map[string]walk.Notification{}
		err = walk.Eventually(ctx, 2*time.Minute, 200*time.Millisecond, func() error {
			clear(byID)
			for _, s := range []*walk.Story{a, b} {
				ns, err := sys.Notifications(ctx, s.ID)
				if err != nil {
					return err
				}
				for _, n := range ns {
					byID[n.ID] = n
				}
			}
			for _, e := range want {
				n, ok := byID[e.NotificationID()]
				if !ok {
					return errorString("no notification " + e.NotificationID())
				}
				if n.Status != "read" {
					return errorString(e.String() + " is " + n.Status)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("notifier listing: %v", err)
		}
		if len(byID) != len(want) {
			t.Errorf("notifier recorded %d notifications for the two shipments, want %d: %+v", len(byID), len(want), byID)
		}
		msgs, err = walk.Messages(ctx, sys.StandinURL)
		if err != nil {
			t.Fatal(err)
		}
		tally := walk.Check(msgs, want)
		if !tally.OK() {
			t.Errorf("stand-in record: %s", tally)
		}
		buyers := []string{walk.Digits(a.Contact.Phone), walk.Digits(b.Contact.Phone)}
		for _, e := range want {
			var m *walk.Message
			for i := range msgs {
				if e.Matches(msgs[i]) {
					m = &msgs[i]
				}
			}
			if m == nil {
				continue // reported above
			}
			n := byID[e.NotificationID()]
			if n.Attempts != 1 {
				// The stand-in is shared: another test's fault may have made
				// the notifier retry. Exactly once is checked on the record.
				t.Logf("%s took %d attempts", e, n.Attempts)
			}
			// The listing shows no WhatsApp message ID (Meta's embeds the
			// number): the callback data ties the message to its notification.
			if m.CallbackData != n.ID || n.Recipient != e.Recipient || !walk.SameTemplate(n.Message.Template, e.Template) ||
				n.Message.Language != e.Language {
				t.Errorf("%s: stand-in callback %s; listing %s recipient %s %s/%s after %d attempts",
					e, m.CallbackData, n.ID, n.Recipient, n.Message.Template, n.Message.Language, n.Attempts)
			}
			if e.Recipient == "ops" && slices.Contains(buyers, m.To) {
				t.Errorf("%s went to a buyer's number", e)
			}
		}
		t.Logf("messages about the two shipments:\n%s", walk.Format(append(walk.About(msgs, a.ID), walk.About(msgs, b.ID)...)))
	})
}

type errorString string

func (e errorString) Error() string { return string(e) }

// readyClient waits, up to a minute, until the system's gateway is ready
// and returns a client of it.
func readyClient(t *testing.T, ctx context.Context, sys *walk.System) *walk.Client {
	t.Helper()
	c, err := sys.ReadyClient(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
