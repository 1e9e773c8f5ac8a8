// Package decide turns one ledger event into the notifications it owes:
// which rules apply, who receives them, and whether each is queued or
// skipped (no consent, opted out, daily cap reached, no contact). It does no
// I/O, so the rules are tested without a store or a network.
package decide

import (
	"errors"
	"fmt"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	phonenum "github.com/shiptrace/shiptrace/notifier/phone"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/tracklink"
)

// Rule sends template Template to recipient To ("buyer" or "ops") for
// events of type Event.
type Rule struct {
	Event    string `mapstructure:"event" json:"event"`
	To       string `mapstructure:"to" json:"to"`
	Template string `mapstructure:"template" json:"template"`
}

// Config is what the decision needs from the notifier's configuration.
type Config struct {
	// ExporterMSP is the org this notifier speaks for; other exporters'
	// events are ignored.
	ExporterMSP string
	Rules       []Rule
	// DailyCap is the most buyer messages per recipient per UTC day
	// (of the event time); 0 disables the cap.
	DailyCap    int
	OpsPhone    string
	OpsLanguage string
	// TrackingURL is a fmt pattern with one %s, exposed to templates as
	// {{.TrackingURL}}: the link's token when Links is set, else the
	// shipment ID.
	TrackingURL string
	// Links signs each message's tracking link ({{.TrackingToken}}), valid
	// for LinkTTL after the event: the event's time, not the clock, so a
	// decision run again gives the same message.
	Links   *tracklink.Signer
	LinkTTL time.Duration
	// MaxEventAge skips events older than this when first seen (e.g. on a
	// first start that replays a long history); 0 disables.
	MaxEventAge time.Duration
}

// View is the store state a decision consults (satisfied by outbox.View).
type View interface {
	OptedOut(phone string) bool
	SentOnDay(phone string, day time.Time) int
}

// Skip reasons recorded on skipped notifications.
const (
	ReasonNoContact = "no_contact"
	ReasonNoConsent = "no_consent"
	ReasonOptedOut  = "opted_out"
	ReasonDailyCap  = "daily_cap_reached"
	ReasonStale     = "event_too_old"
	ReasonNoOps     = "no_ops_number"
	// ReasonInvalidPhone: the number is not a valid international number
	// (libphonenumber's metadata); WhatsApp would refuse or misroute it.
	ReasonInvalidPhone = "invalid_phone"
)

// Decider applies the rules.
type Decider struct {
	cfg      Config
	renderer *template.Renderer
}

// New checks the rules against the configured templates.
func New(cfg Config, r *template.Renderer) (*Decider, error) {
	var errs []error
	if cfg.ExporterMSP == "" {
		errs = append(errs, errors.New("exporter MSP ID is required"))
	}
	for i, rule := range cfg.Rules {
		if rule.Event == "" {
			errs = append(errs, fmt.Errorf("rule %d: event is required", i))
		}
		if rule.To != notifier.RoleBuyer && rule.To != notifier.RoleOps {
			errs = append(errs, fmt.Errorf("rule %d (%s): to must be %q or %q, not %q", i, rule.Event, notifier.RoleBuyer, notifier.RoleOps, rule.To))
		}
		if !r.Has(rule.Template) {
			errs = append(errs, fmt.Errorf("rule %d (%s): template %q is not configured", i, rule.Event, rule.Template))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Decider{cfg: cfg, renderer: r}, nil
}

// Relevant returns the rules that apply to ev. An empty result means the
// event is ignored (another exporter's, or a type nobody is told about).
func (d *Decider) Relevant(ev notifier.Event) []Rule {
	if ev.Exporter != d.cfg.ExporterMSP {
		return nil
	}
	var out []Rule
	for _, r := range d.cfg.Rules {
		if r.Event == string(ev.Type) {
			out = append(out, r)
		}
	}
	return out
}

// NeedsBuyer reports whether any of rules addresses the buyer, so the
// caller fetches the contact only when it will be used.
func NeedsBuyer(rules []Rule) bool {
	for _, r := range rules {
		if r.To == notifier.RoleBuyer {
			return true
		}
	}
	return false
}

// Input is one event with everything the decision needs.
type Input struct {
	Chain notifier.ChainEvent
	Event notifier.Event
	Rules []Rule
	// Buyer is the buyer's contact; nil with ContactErr = ErrNoContact
	// when there is none.
	Buyer *notifier.Contact
	Now   time.Time
}

// Plan returns one notification per rule, queued or skipped with a reason.
// It runs inside the store transaction that records them, so the cap and
// opt-out it reads are the ones it writes against.
func (d *Decider) Plan(in Input, v View) []notifier.Notification {
	out := make([]notifier.Notification, 0, len(in.Rules))
	seen := map[string]bool{}
	for _, rule := range in.Rules {
		id := notifier.NotificationID(in.Chain.TxID, string(in.Event.Type), rule.To)
		if seen[id] {
			continue // two rules for the same recipient: the first wins, the key allows one
		}
		seen[id] = true
		n := notifier.Notification{
			ID: id, TxID: in.Chain.TxID, Block: in.Chain.Block, EventType: string(in.Event.Type),
			Recipient: rule.To, ShipmentID: in.Event.ShipmentID, EventTime: in.Event.Time,
			Status:  notifier.StatusQueued,
			Message: notifier.Message{Template: d.renderer.Name(rule.Template), CallbackData: id},
		}
		skip := func(reason string) {
			n.Status, n.Reason = notifier.StatusSkipped, reason
		}
		var phone, lang, name string
		switch rule.To {
		case notifier.RoleBuyer:
			if in.Buyer == nil || in.Buyer.Phone == "" {
				skip(ReasonNoContact)
				out = append(out, n)
				continue
			}
			phone, lang, name = in.Buyer.Phone, in.Buyer.Language, in.Buyer.Name
		case notifier.RoleOps:
			if d.cfg.OpsPhone == "" {
				skip(ReasonNoOps)
				out = append(out, n)
				continue
			}
			phone, lang = d.cfg.OpsPhone, d.cfg.OpsLanguage
		}
		if e164, err := phonenum.Parse(phone); err == nil {
			phone = e164
		} else {
			n.Phone = ""
			skip(ReasonInvalidPhone)
			out = append(out, n)
			continue
		}
		n.Phone = phone
		data := template.Data{Event: in.Event, Name: name, Recipient: rule.To}
		err := d.link(&data, in, rule.To, lang)
		msg, rerr := d.renderer.Render(rule.Template, lang, data)
		if err == nil {
			err = rerr
		}
		msg.To = phone
		msg.CallbackData = id
		n.Message = msg
		switch {
		case err != nil:
			n.Status, n.Reason = notifier.StatusFailed, "render: "+err.Error()
		case d.cfg.MaxEventAge > 0 && !in.Event.Time.IsZero() && in.Now.Sub(in.Event.Time) > d.cfg.MaxEventAge:
			skip(ReasonStale)
		case rule.To == notifier.RoleBuyer && !in.Buyer.Consent:
			skip(ReasonNoConsent)
		case v.OptedOut(phone):
			skip(ReasonOptedOut)
		case rule.To == notifier.RoleBuyer && d.cfg.DailyCap > 0 && v.SentOnDay(phone, in.Event.Time) >= d.cfg.DailyCap:
			skip(ReasonDailyCap)
		}
		out = append(out, n)
	}
	return out
}

// link fills the message's tracking link: a token signed for the recipient's
// audience and language, expiring LinkTTL after the event.
func (d *Decider) link(data *template.Data, in Input, audience, lang string) error {
	if d.cfg.Links == nil {
		if d.cfg.TrackingURL != "" {
			data.TrackingURL = fmt.Sprintf(d.cfg.TrackingURL, in.Event.ShipmentID)
		}
		return nil
	}
	at := in.Event.Time
	if at.IsZero() {
		at = in.Now
	}
	tok, err := d.cfg.Links.Issue(tracklink.Claims{ShipmentID: in.Event.ShipmentID, Audience: audience,
		Lang: lang, Expires: at.Add(d.cfg.LinkTTL).Truncate(time.Second)})
	if err != nil {
		return fmt.Errorf("tracking link: %w", err)
	}
	data.TrackingToken = tok
	if d.cfg.TrackingURL != "" {
		data.TrackingURL = fmt.Sprintf(d.cfg.TrackingURL, tok)
	}
	return nil
}
