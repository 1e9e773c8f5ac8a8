// Package decide turns one ledger event into the notifications it owes:
// which rules apply, who receives them (and, for A/B tests, which variant),
// and whether each is queued, deferred (daily cap, quiet hours: queued with
// NotBefore, see notifier/policy) or skipped (no consent, opted out, no
// contact). It does no I/O, so the rules are tested without a store or a
// network.
package decide

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	phonenum "github.com/shiptrace/shiptrace/notifier/phone"
	"github.com/shiptrace/shiptrace/notifier/policy"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/tracklink"
)

// Rule sends template Template to recipient To ("buyer" or "ops") for
// events of type Event, or, with Variants, one of several templates.
type Rule struct {
	Event    string `mapstructure:"event" json:"event"`
	To       string `mapstructure:"to" json:"to"`
	Template string `mapstructure:"template" json:"template"`
	// Variants make the rule an A/B test: each recipient gets one variant,
	// drawn with the weights from a keyed hash of the recipient's phone
	// reference and the event type, so they stay in it. A rule without
	// variants is variant "A" of weight 1 with Template.
	Variants []Variant `mapstructure:"variants" json:"variants,omitempty"`
}

// Variant is one arm of an A/B test: a template and its relative weight.
type Variant struct {
	Name     string `mapstructure:"name" json:"name"`
	Template string `mapstructure:"template" json:"template"`
	Weight   int    `mapstructure:"weight" json:"weight"`
}

// DefaultVariant names the only variant of a rule without variants.
const DefaultVariant = "A"

// variants returns the rule's variants, a rule without any being variant
// A of weight 1.
func (r Rule) variants() []Variant {
	if len(r.Variants) == 0 {
		return []Variant{{Name: DefaultVariant, Template: r.Template, Weight: 1}}
	}
	return r.Variants
}

// Config is what the decision needs from the notifier's configuration.
type Config struct {
	// ExporterMSP is the org this notifier speaks for; other exporters'
	// events are ignored.
	ExporterMSP string
	Rules       []Rule
	// Policy defers buyer messages past the daily cap and out of quiet
	// hours (nil: every message may go at once).
	Policy *policy.Policy
	// Refs keys the A/B variant draw (notifier.RefKey.Draw); without a
	// key the draw is an unkeyed hash (only for config validation).
	Refs        notifier.RefKey
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
	// CapUsed is how many capped messages the recipient's local day
	// (policy.DayLayout) already holds.
	CapUsed(phone, day string) int
}

// Skip reasons recorded on skipped notifications.
const (
	ReasonNoContact = "no_contact"
	ReasonNoConsent = "no_consent"
	ReasonOptedOut  = "opted_out"
	// ReasonDailyCap and ReasonQuietHours explain a deferred (queued,
	// not skipped) notification: it goes at its NotBefore.
	ReasonDailyCap   = policy.ReasonDailyCap
	ReasonQuietHours = policy.ReasonQuietHours
	ReasonStale      = "event_too_old"
	ReasonNoOps      = "no_ops_number"
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
		errs = append(errs, checkVariants(i, rule, r)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Decider{cfg: cfg, renderer: r}, nil
}

// checkVariants validates a rule's templates and A/B variants.
func checkVariants(i int, rule Rule, r *template.Renderer) []error {
	var errs []error
	names := map[string]bool{}
	listed := rule.Template == ""
	for _, v := range rule.variants() {
		if v.Name == "" || names[v.Name] {
			errs = append(errs, fmt.Errorf("rule %d (%s): variant names must be unique and not empty (%q)", i, rule.Event, v.Name))
		}
		names[v.Name] = true
		if v.Weight < 1 {
			errs = append(errs, fmt.Errorf("rule %d (%s): variant %q: weight must be at least 1, not %d", i, rule.Event, v.Name, v.Weight))
		}
		if !r.Has(v.Template) {
			errs = append(errs, fmt.Errorf("rule %d (%s): template %q is not configured", i, rule.Event, v.Template))
		}
		listed = listed || v.Template == rule.Template
	}
	if !listed {
		errs = append(errs, fmt.Errorf("rule %d (%s): template %q is not one of its variants' (omit it when variants are set)", i, rule.Event, rule.Template))
	}
	return errs
}

// Variant draws the rule's variant for a recipient: a keyed hash of the
// recipient's phone reference and the event type, spread over the
// weights. The same recipient always draws the same variant of a rule.
func (d *Decider) Variant(rule Rule, phoneRef string) Variant {
	vs := rule.variants()
	if len(vs) == 1 {
		return vs[0]
	}
	total := 0
	for _, v := range vs {
		total += v.Weight
	}
	var draw uint64
	if d.cfg.Refs.IsZero() {
		sum := sha256.Sum256([]byte("draw\x00" + phoneRef + "\x00" + rule.Event))
		draw = binary.BigEndian.Uint64(sum[:8])
	} else {
		draw = d.cfg.Refs.Draw("variant", phoneRef, rule.Event)
	}
	x := int(draw % uint64(total))
	for _, v := range vs {
		if x < v.Weight {
			return v
		}
		x -= v.Weight
	}
	return vs[len(vs)-1]
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
			Message: notifier.Message{Template: d.renderer.Name(rule.variants()[0].Template), CallbackData: id},
			Variant: rule.variants()[0].Name,
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
			n.TimeZone = in.Buyer.TimeZone
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
		variant := d.Variant(rule, d.phoneRef(phone))
		n.Variant = variant.Name
		data := template.Data{Event: in.Event, Name: name, Recipient: rule.To}
		err := d.link(&data, in, rule.To, lang, d.renderer.Name(variant.Template), variant.Name)
		msg, rerr := d.renderer.Render(variant.Template, lang, data)
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
		default:
			d.schedule(&n, in.Now, v)
		}
		out = append(out, n)
	}
	return out
}

// schedule applies the frequency cap and quiet hours to a queued message:
// urgent ones go at once and do not count, others count against the local
// day they will go on and, if that is not now, are deferred to NotBefore
// (queued, never skipped; the outbox's queue sends them then).
func (d *Decider) schedule(n *notifier.Notification, now time.Time, v View) {
	p := d.cfg.Policy
	if p == nil || n.Recipient != notifier.RoleBuyer {
		return
	}
	if !p.Applies(*n) {
		n.Urgent = true
		return
	}
	at, day, reason := p.Schedule(now, p.Zone(*n), func(day string) int { return v.CapUsed(n.Phone, day) })
	n.CapDay = day
	if reason != "" {
		n.NextAt, n.NotBefore, n.Reason = at, at, reason
	}
}

// phoneRef is the keyed reference the variant draw uses.
func (d *Decider) phoneRef(phone string) string {
	if d.cfg.Refs.IsZero() {
		return notifier.NormalizePhone(phone)
	}
	return d.cfg.Refs.PhoneRef(phone)
}

// link fills the message's tracking link: a token signed for the recipient's
// audience and language, expiring LinkTTL after the event.
// The token also names the message's template and variant, so the
// notifier's redirect can count an open for them (the click KPI).
func (d *Decider) link(data *template.Data, in Input, audience, lang, tpl, variant string) error {
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
		Lang: lang, Expires: at.Add(d.cfg.LinkTTL).Truncate(time.Second), Template: tpl, Variant: variant})
	if err != nil {
		return fmt.Errorf("tracking link: %w", err)
	}
	data.TrackingToken = tok
	if d.cfg.TrackingURL != "" {
		data.TrackingURL = fmt.Sprintf(d.cfg.TrackingURL, tok)
	}
	return nil
}
