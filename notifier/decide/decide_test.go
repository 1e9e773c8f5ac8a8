package decide_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/policy"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

// fakeView is a hand-written View.
type fakeView struct {
	optedOut map[string]bool
	sent     map[string]int
}

func (f fakeView) OptedOut(phone string) bool    { return f.optedOut[phone] }
func (f fakeView) CapUsed(phone, day string) int { return f.sent[phone] }

func newDecider(t *testing.T, ops string) *decide.Decider {
	t.Helper()
	r, err := template.New(map[string]template.Spec{
		"buyer": {Name: "buyer_tpl", Languages: []string{"en", "es"}, Fallback: "en", Params: template.Params{Body: []string{"{{.Event.ShipmentID}}"}}},
		"ops":   {Name: "ops_tpl", Languages: []string{"en"}, Params: template.Params{Body: []string{"{{.Event.ShipmentID}}"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := decide.New(decide.Config{
		ExporterMSP: "ExporterMSP", OpsPhone: ops, OpsLanguage: "en", MaxEventAge: 48 * time.Hour,
		Policy: policy.New(policy.Config{DailyCap: 3, Urgent: []string{notifier.EventColdChainBreached}}),
		Rules: []decide.Rule{
			{Event: notifier.EventShipped, To: notifier.RoleBuyer, Template: "buyer"},
			{Event: notifier.EventColdChainBreached, To: notifier.RoleBuyer, Template: "buyer"},
			{Event: notifier.EventColdChainBreached, To: notifier.RoleOps, Template: "ops"},
		},
	}, r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func ev(typ, exporter string) notifier.Event {
	return notifier.Event{Type: shipment.EventType(typ), ShipmentID: "SHP-1", Exporter: exporter, Time: now.Add(-time.Minute)}
}

func TestPlan(t *testing.T) {
	buyer := &notifier.Contact{Phone: "+34600000001", Name: "Lucía", Language: "es", Consent: true}
	noConsent := &notifier.Contact{Phone: "+34600000001", Language: "es"}
	type want struct {
		recipient string
		status    notifier.Status
		reason    string
	}
	tests := []struct {
		name  string
		event notifier.Event
		buyer *notifier.Contact
		view  fakeView
		ops   string
		want  []want
	}{
		{name: "shipped with consent queues one buyer message", event: ev(notifier.EventShipped, "ExporterMSP"), buyer: buyer,
			want: []want{{notifier.RoleBuyer, notifier.StatusQueued, ""}}},
		{name: "no consent is skipped with the reason", event: ev(notifier.EventShipped, "ExporterMSP"), buyer: noConsent,
			want: []want{{notifier.RoleBuyer, notifier.StatusSkipped, decide.ReasonNoConsent}}},
		{name: "no contact is skipped", event: ev(notifier.EventShipped, "ExporterMSP"),
			want: []want{{notifier.RoleBuyer, notifier.StatusSkipped, decide.ReasonNoContact}}},
		{name: "opted-out number is skipped", event: ev(notifier.EventShipped, "ExporterMSP"), buyer: buyer,
			view: fakeView{optedOut: map[string]bool{"+34600000001": true}},
			want: []want{{notifier.RoleBuyer, notifier.StatusSkipped, decide.ReasonOptedOut}}},
		{name: "daily cap reached is deferred, not skipped", event: ev(notifier.EventShipped, "ExporterMSP"), buyer: buyer,
			view: fakeView{sent: map[string]int{"+34600000001": 3}},
			want: []want{{notifier.RoleBuyer, notifier.StatusQueued, decide.ReasonDailyCap}}},
		{name: "below the cap is queued", event: ev(notifier.EventShipped, "ExporterMSP"), buyer: buyer,
			view: fakeView{sent: map[string]int{"+34600000001": 2}},
			want: []want{{notifier.RoleBuyer, notifier.StatusQueued, ""}}},
		{name: "breach alerts buyer and operations", event: ev(notifier.EventColdChainBreached, "ExporterMSP"), buyer: buyer, ops: "+4930000000",
			want: []want{{notifier.RoleBuyer, notifier.StatusQueued, ""}, {notifier.RoleOps, notifier.StatusQueued, ""}}},
		{name: "breach is urgent and operations alert is not capped", event: ev(notifier.EventColdChainBreached, "ExporterMSP"), buyer: buyer, ops: "+4930000000",
			view: fakeView{sent: map[string]int{"+34600000001": 3, "+4930000000": 50}},
			want: []want{{notifier.RoleBuyer, notifier.StatusQueued, ""}, {notifier.RoleOps, notifier.StatusQueued, ""}}},
		{name: "breach without an ops number skips the ops alert", event: ev(notifier.EventColdChainBreached, "ExporterMSP"), buyer: buyer,
			want: []want{{notifier.RoleBuyer, notifier.StatusQueued, ""}, {notifier.RoleOps, notifier.StatusSkipped, decide.ReasonNoOps}}},
		{name: "a number outside the numbering plan is skipped", event: ev(notifier.EventShipped, "ExporterMSP"),
			buyer: &notifier.Contact{Phone: "+551187654321", Language: "pt-BR", Consent: true}, // Brazilian mobile without the ninth digit
			want:  []want{{notifier.RoleBuyer, notifier.StatusSkipped, decide.ReasonInvalidPhone}}},
		{name: "stale event is skipped", event: func() notifier.Event {
			e := ev(notifier.EventShipped, "ExporterMSP")
			e.Time = now.Add(-72 * time.Hour)
			return e
		}(), buyer: buyer,
			want: []want{{notifier.RoleBuyer, notifier.StatusSkipped, decide.ReasonStale}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDecider(t, tt.ops)
			rules := d.Relevant(tt.event)
			got := d.Plan(decide.Input{Chain: notifier.ChainEvent{Block: 7, TxID: "tx1"}, Event: tt.event, Rules: rules, Buyer: tt.buyer, Now: now}, tt.view)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d notifications, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				n := got[i]
				if n.Recipient != w.recipient || n.Status != w.status || n.Reason != w.reason {
					t.Errorf("notification %d = %s/%s/%q, want %s/%s/%q", i, n.Recipient, n.Status, n.Reason, w.recipient, w.status, w.reason)
				}
				if n.ID != notifier.NotificationID("tx1", string(tt.event.Type), w.recipient) {
					t.Errorf("notification %d has ID %q", i, n.ID)
				}
				if n.Message.CallbackData != n.ID {
					t.Errorf("callback data %q should carry the notification ID", n.Message.CallbackData)
				}
			}
		})
	}
}

func TestRelevantIgnoresOtherExportersAndUnmappedTypes(t *testing.T) {
	d := newDecider(t, "")
	if r := d.Relevant(ev(notifier.EventShipped, "OtherExporterMSP")); len(r) != 0 {
		t.Errorf("another exporter's event matched %d rules", len(r))
	}
	if r := d.Relevant(ev("readings.recorded", "ExporterMSP")); len(r) != 0 {
		t.Errorf("an unmapped event type matched %d rules", len(r))
	}
	if r := d.Relevant(ev(notifier.EventShipped, "ExporterMSP")); len(r) != 1 {
		t.Errorf("our shipped event matched %d rules, want 1", len(r))
	}
}

func TestPlanUsesBuyerLanguage(t *testing.T) {
	d := newDecider(t, "")
	e := ev(notifier.EventShipped, "ExporterMSP")
	got := d.Plan(decide.Input{Chain: notifier.ChainEvent{TxID: "tx"}, Event: e, Rules: d.Relevant(e), Now: now,
		Buyer: &notifier.Contact{Phone: "+34600000001", Language: "es-ES", Consent: true}}, fakeView{})
	if got[0].Message.Language != "es" || got[0].Message.To != "+34600000001" {
		t.Errorf("message language %q to %q", got[0].Message.Language, got[0].Message.To)
	}
}

func TestPlanSendsToTheE164FormOfTheNumber(t *testing.T) {
	d := newDecider(t, "")
	e := ev(notifier.EventShipped, "ExporterMSP")
	got := d.Plan(decide.Input{Chain: notifier.ChainEvent{TxID: "tx"}, Event: e, Rules: d.Relevant(e), Now: now,
		Buyer: &notifier.Contact{Phone: "+55 (11) 98765-4321", Language: "pt-BR", Consent: true}}, fakeView{})
	if got[0].Status != notifier.StatusQueued || got[0].Message.To != "+5511987654321" || got[0].Phone != "+5511987654321" {
		t.Errorf("%s %q: message to %q, phone %q; want queued to +5511987654321", got[0].Status, got[0].Reason, got[0].Message.To, got[0].Phone)
	}
}

func TestNewRejectsRulesWithUnknownTemplatesOrRecipients(t *testing.T) {
	r, _ := template.New(map[string]template.Spec{"t": {Name: "t", Languages: []string{"en"}}})
	for _, rule := range []decide.Rule{{Event: "x", To: "buyer", Template: "missing"}, {Event: "x", To: "carrier", Template: "t"}} {
		if _, err := decide.New(decide.Config{ExporterMSP: "E", Rules: []decide.Rule{rule}}, r); err == nil {
			t.Errorf("rule %+v accepted", rule)
		}
	}
}

// TestTrackingLinkIsSignedForTheRecipient checks the link a buyer's message
// carries: a token the gateway's page accepts for this shipment, in the
// buyer's language, expiring the TTL after the event, the same on every
// run of the decision (a replayed event must give the same message).
func TestTrackingLinkIsSignedForTheRecipient(t *testing.T) {
	links, err := tracklink.New([]byte(strings.Repeat("s", tracklink.MinSecretBytes)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := template.New(map[string]template.Spec{
		"buyer": {Name: "buyer_tpl", Languages: []string{"en", "pt_BR"}, Fallback: "en", Params: template.Params{
			Body:    []string{"{{.TrackingURL}}"},
			Buttons: []template.Button{{SubType: "url", Index: 0, Text: "{{default (pathescape .Event.ShipmentID) .TrackingToken}}"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ttl := 90 * 24 * time.Hour
	d, err := decide.New(decide.Config{ExporterMSP: "ExporterMSP", TrackingURL: "https://gw.example/track/%s",
		Links: links, LinkTTL: ttl, Rules: []decide.Rule{{Event: notifier.EventShipped, To: notifier.RoleBuyer, Template: "buyer"}}}, r)
	if err != nil {
		t.Fatal(err)
	}
	e := ev(notifier.EventShipped, "ExporterMSP")
	plan := func() notifier.Message {
		got := d.Plan(decide.Input{Chain: notifier.ChainEvent{TxID: "tx"}, Event: e, Rules: d.Relevant(e), Now: now,
			Buyer: &notifier.Contact{Phone: "+5511987654321", Name: "Ana", Language: "pt_BR", Consent: true}}, fakeView{})
		if len(got) != 1 || got[0].Status != notifier.StatusQueued {
			t.Fatalf("plan = %+v", got)
		}
		return got[0].Message
	}
	msg := plan()
	b, _ := json.Marshal(msg)
	body := string(b)
	i := strings.Index(body, "https://gw.example/track/")
	if i < 0 {
		t.Fatalf("no tracking URL in %s", body)
	}
	token := strings.SplitN(body[i+len("https://gw.example/track/"):], `"`, 2)[0]
	c, err := links.Verify(token, now, tracklink.AudienceBuyer)
	if err != nil || c.ShipmentID != "SHP-1" || c.Lang != "pt_BR" || !c.Expires.Equal(e.Time.Add(ttl).Truncate(time.Second)) {
		t.Fatalf("token claims %+v, %v", c, err)
	}
	if strings.Count(body, token) != 2 {
		t.Errorf("the Track button does not carry the token: %s", body)
	}
	if strings.Contains(token, "Ana") || strings.Contains(body, "SHP-1") {
		t.Errorf("the link shows the buyer or the shipment in clear: %s", body)
	}
	if again, _ := json.Marshal(plan()); string(again) != body {
		t.Errorf("a second decision gave another message:\n%s\n%s", again, body)
	}
}
