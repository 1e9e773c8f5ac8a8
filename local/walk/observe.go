package walk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

// Message is one WhatsApp template message as the stand-in received it.
type Message struct {
	Seq        int
	ReceivedAt time.Time
	Accepted   bool
	WAMID      string
	To         string // digits only
	Template   string
	Language   string
	Body       []string // body parameters
	// Buttons has one entry per button: "url:<text>" or
	// "quick_reply:<payload>". A url button that carries a tracking link's
	// token is shown as "url:<the shipment ID the token names>", so
	// expectations stay readable; the token itself is in TrackTokens.
	Buttons      []string
	TrackTokens  []string
	CallbackData string
}

// Messages returns every request the stand-in received, in order.
func Messages(ctx context.Context, standinURL string) ([]Message, error) {
	var recs []wastandin.Record
	if err := GetJSON(ctx, standinURL+"/_standin/messages", &recs); err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(recs))
	for _, r := range recs {
		m := Message{Seq: r.Seq, ReceivedAt: r.ReceivedAt, Accepted: r.Accepted, WAMID: r.WAMID, To: r.To,
			Template: r.Template, Language: r.Language, CallbackData: r.CallbackData}
		for _, c := range r.Components {
			var ps []string
			for _, raw := range c.Parameters {
				var p struct{ Type, Text, Payload string }
				_ = json.Unmarshal(raw, &p)
				if p.Type == "payload" {
					ps = append(ps, p.Payload)
				} else {
					ps = append(ps, p.Text)
				}
			}
			switch c.Type {
			case "body":
				m.Body = append(m.Body, ps...)
			case "button":
				text := strings.Join(ps, ",")
				if claims, err := tracklink.Inspect(text); c.SubType == "url" && err == nil {
					m.TrackTokens = append(m.TrackTokens, text)
					text = claims.ShipmentID
				}
				m.Buttons = append(m.Buttons, c.SubType+":"+text)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// About returns the accepted messages that name the shipment in their
// body (every template's parameters carry the shipment ID).
func About(msgs []Message, id string) []Message {
	var out []Message
	for _, m := range msgs {
		if m.Accepted && slices.Contains(m.Body, id) {
			out = append(out, m)
		}
	}
	return out
}

// Notification is one entry of the notifier's admin listing: no number,
// name or WhatsApp message ID, only the keyed PhoneRef.
type Notification struct {
	ID         string    `json:"id"`
	TxID       string    `json:"txId"`
	EventType  string    `json:"eventType"`
	Recipient  string    `json:"recipient"`
	ShipmentID string    `json:"shipmentId"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason"`
	Attempts   int       `json:"attempts"`
	PhoneRef   string    `json:"phoneRef"`
	CreatedAt  time.Time `json:"createdAt"`
	ErasedAt   time.Time `json:"erasedAt"`
	Message    struct {
		Template string `json:"template"`
		Language string `json:"language"`
	} `json:"message"`
}

// Notifications lists what the notifier recorded for a shipment.
func (s *System) Notifications(ctx context.Context, id string) ([]Notification, error) {
	var body struct {
		Notifications []Notification `json:"notifications"`
	}
	if err := s.NotifierJSON(ctx, "/v1/shipments/"+id+"/notifications", &body); err != nil {
		return nil, err
	}
	return body.Notifications, nil
}

// NotifierJSON decodes the answer of a GET on the notifier's admin API
// (e.g. /v1/status), sent with its token.
func (s *System) NotifierJSON(ctx context.Context, path string, v any) error {
	return getJSON(ctx, s.NotifierURL+path, "Bearer "+s.NotifierToken, v)
}

// Expected is a message the notifier must send exactly once.
type Expected struct {
	ShipmentID string
	EventType  string // shipment.shipped, ...
	Recipient  string // buyer or ops
	TxID       string // the transaction whose event causes it
	To         string // digits; empty for ops (the operations number is the notifier's)
	Template   string
	Language   string
	Body       []string
	Buttons    []string
}

// NotificationID is the notifier's key for the message: it travels as the
// WhatsApp callback data (biz_opaque_callback_data).
func (e Expected) NotificationID() string { return e.TxID + "/" + e.EventType + "/" + e.Recipient }

func (e Expected) String() string {
	return fmt.Sprintf("%s %s to %s (%s/%s)", e.ShipmentID, e.EventType, e.Recipient, e.Template, e.Language)
}

// Matches reports whether m is this message, parameter for parameter.
func (e Expected) Matches(m Message) bool {
	return m.Accepted && SameTemplate(m.Template, e.Template) && m.Language == e.Language && (e.To == "" || m.To == e.To) &&
		slices.Equal(m.Body, e.Body) && slices.Equal(m.Buttons, e.Buttons)
}

// Digits is a phone number as WhatsApp's "to" carries it.
func Digits(phone string) string { return strings.TrimPrefix(phone, "+") }

func celsius(v *float64) string {
	if v == nil {
		return "?"
	}
	return fmt.Sprintf("%.1f °C", *v)
}

// SameTemplate reports whether a message's template is want or one of its
// A/B variants ("shipment_shipped_v2" for "shipment_shipped"): the
// notifier's default rules split the shipped message between the two
// (notifier/README.md, "A/B variants").
func SameTemplate(got, want string) bool {
	return got == want || strings.HasPrefix(got, want+"_v")
}

func product(s shipment.Shipment) string { return s.Product.Description + ", lot " + s.Product.Lot }

// ShippedMessage is the buyer's "shipped" message for a shipment.
func ShippedMessage(id, tx string, c shipment.Contact, s shipment.Shipment) Expected {
	return Expected{ShipmentID: id, EventType: "shipment.shipped", Recipient: "buyer", TxID: tx, To: Digits(c.Phone),
		Template: "shipment_shipped", Language: c.Language,
		Body:    []string{c.Name, id, product(s), s.Destination.Name + ", " + s.Destination.Country, s.ExpectedDeliveryAt.UTC().Format("2006-01-02")},
		Buttons: []string{"url:" + id, "quick_reply:STOP", "quick_reply:STATUS:" + id}}
}

// DeliveredMessage is the buyer's "delivered" message.
func DeliveredMessage(id, tx string, c shipment.Contact, s shipment.Shipment) Expected {
	return Expected{ShipmentID: id, EventType: "shipment.delivered", Recipient: "buyer", TxID: tx, To: Digits(c.Phone),
		Template: "shipment_delivered", Language: c.Language,
		Body:    []string{c.Name, id, product(s), s.DeliveredAt.UTC().Format("2006-01-02")},
		Buttons: []string{"url:" + id, "quick_reply:STOP", "quick_reply:CLAIM:" + id}}
}

// Expected lists the messages the walk-through must cause: for the
// delivered shipment "shipped" and "delivered" to its buyer; for the
// breached one "shipped" and "cold chain breach" to its buyer and a breach
// alert to the exporter's operations number.
func (r *Result) Expected() []Expected {
	a, b := r.Delivered, r.Breached
	cc := b.breachState
	return []Expected{
		ShippedMessage(a.ID, a.ShipTx, a.Contact, a.Final),
		DeliveredMessage(a.ID, a.DeliverTx, a.Contact, a.Final),
		ShippedMessage(b.ID, b.ShipTx, b.Contact, b.Final),
		{ShipmentID: b.ID, EventType: "coldchain.breached", Recipient: "buyer", TxID: b.BreachTx, To: Digits(b.Contact.Phone),
			Template: "coldchain_breach", Language: b.Contact.Language,
			Body:    []string{b.Contact.Name, b.ID, product(b.Final), celsius(cc.MinC), celsius(cc.MaxC)},
			Buttons: []string{"url:" + b.ID, "quick_reply:CLAIM:" + b.ID}},
		{ShipmentID: b.ID, EventType: "coldchain.breached", Recipient: "ops", TxID: b.BreachTx,
			Template: "ops_coldchain_breach", Language: "en",
			Body: []string{b.ID, product(b.Final), "CarrierMSP", celsius(cc.MinC), celsius(cc.MaxC)}},
	}
}

// Tally compares what the stand-in received about the given shipments with
// what was expected: each expected message must have arrived exactly once.
type Tally struct {
	Count      map[string]int // by Expected.String()
	Missing    []Expected
	Duplicated []Expected
	Unexpected []Message // about these shipments, matching no expectation
}

// Check tallies msgs against want.
func Check(msgs []Message, want []Expected) Tally {
	t := Tally{Count: map[string]int{}}
	ids := map[string]bool{}
	for _, e := range want {
		ids[e.ShipmentID] = true
	}
	for _, m := range msgs {
		if !m.Accepted {
			continue
		}
		about := false
		for id := range ids {
			if slices.Contains(m.Body, id) {
				about = true
			}
		}
		if !about {
			continue
		}
		matched := false
		for _, e := range want {
			if e.Matches(m) {
				t.Count[e.String()]++
				matched = true
				break
			}
		}
		if !matched {
			t.Unexpected = append(t.Unexpected, m)
		}
	}
	for _, e := range want {
		switch n := t.Count[e.String()]; {
		case n == 0:
			t.Missing = append(t.Missing, e)
		case n > 1:
			t.Duplicated = append(t.Duplicated, e)
		}
	}
	return t
}

// OK reports exactly-once delivery of everything expected, and nothing else.
func (t Tally) OK() bool {
	return len(t.Missing) == 0 && len(t.Duplicated) == 0 && len(t.Unexpected) == 0
}

func (t Tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "missing %d, duplicated %d, unexpected %d", len(t.Missing), len(t.Duplicated), len(t.Unexpected))
	for _, e := range t.Missing {
		fmt.Fprintf(&b, "\n  missing:    %s %v", e, e.Body)
	}
	for _, e := range t.Duplicated {
		fmt.Fprintf(&b, "\n  duplicated: %s x%d", e, t.Count[e.String()])
	}
	for _, m := range t.Unexpected {
		fmt.Fprintf(&b, "\n  unexpected: %s/%s to %s %v %v (callback %s)", m.Template, m.Language, m.To, m.Body, m.Buttons, m.CallbackData)
	}
	return b.String()
}

// Format prints messages one per line, in the order received.
func Format(msgs []Message) string {
	sorted := slices.Clone(msgs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
	var b strings.Builder
	for _, m := range sorted {
		fmt.Fprintf(&b, "  #%-4d %s  to +%s  %s/%s  body %q", m.Seq, m.ReceivedAt.Format("15:04:05.000"), m.To, m.Template, m.Language, m.Body)
		if len(m.Buttons) > 0 {
			fmt.Fprintf(&b, "  buttons %q", m.Buttons)
		}
		for _, tok := range m.TrackTokens {
			fmt.Fprintf(&b, "\n        Track: /track/%s", tok)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// GetJSON decodes the JSON answer of a GET that must be 200.
func GetJSON(ctx context.Context, url string, v any) error { return getJSON(ctx, url, "", v) }

func getJSON(ctx context.Context, url, authorization string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
