// Package template renders ledger events into WhatsApp template messages:
// it picks the template language for a recipient (with a fallback when the
// template is not approved in their language) and fills header, body and
// button parameters from the event with Go text/template expressions.
package template

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
)

// Spec is one approved WhatsApp template, as configured.
type Spec struct {
	// Name is the template's name in WhatsApp Manager.
	Name string `mapstructure:"name" json:"name"`
	// Category is informational (UTILITY, MARKETING, AUTHENTICATION).
	Category string `mapstructure:"category" json:"category"`
	// Languages the template is approved in, e.g. [en, es, pt_BR].
	Languages []string `mapstructure:"languages" json:"languages"`
	// Fallback is used when the recipient's language is not approved.
	Fallback string `mapstructure:"fallback" json:"fallback"`
	Params   `mapstructure:",squash"`
	// Localized overrides parameters per language (e.g. a date format).
	Localized map[string]Params `mapstructure:"localized" json:"localized,omitempty"`
}

// Params are the parameter expressions of a template.
type Params struct {
	Header  []string `mapstructure:"header" json:"header,omitempty"`
	Body    []string `mapstructure:"body" json:"body,omitempty"`
	Buttons []Button `mapstructure:"buttons" json:"buttons,omitempty"`
}

// Button is a dynamic button parameter: the URL suffix of a url button or
// the payload of a quick-reply button.
type Button struct {
	SubType string `mapstructure:"sub_type" json:"sub_type"` // url or quick_reply
	Index   int    `mapstructure:"index" json:"index"`
	Text    string `mapstructure:"text" json:"text,omitempty"`       // url: the variable part of the URL
	Payload string `mapstructure:"payload" json:"payload,omitempty"` // quick_reply
}

// Data is what parameter expressions can refer to: {{.Event.ShipmentID}},
// {{.Name}} (the buyer's name; empty for operators), {{.TrackingURL}},
// {{.TrackingToken}} (the signed link's token, URL-safe: the Track button's
// suffix; empty without tracking_secret).
type Data struct {
	Event         notifier.Event
	Name          string
	Recipient     string
	TrackingURL   string
	TrackingToken string
}

// Renderer holds compiled templates.
type Renderer struct {
	specs    map[string]Spec
	compiled map[string]*template.Template
}

var funcs = template.FuncMap{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02")
		case *time.Time:
			if v == nil || v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02")
		}
		return ""
	},
	"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"celsius": func(v *float64) string {
		if v == nil {
			return "?"
		}
		return fmt.Sprintf("%.1f °C", *v)
	},
	"default": func(def, v string) string {
		if strings.TrimSpace(v) == "" {
			return def
		}
		return v
	},
	"pathescape": url.PathEscape,
	"upper":      strings.ToUpper,
}

// New compiles every expression of specs (keyed by a local name used in
// rules), so a typo fails at start rather than at the first event.
func New(specs map[string]Spec) (*Renderer, error) {
	r := &Renderer{specs: specs, compiled: map[string]*template.Template{}}
	var errs []error
	for key, s := range specs {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("template %s: name is required", key))
		}
		if len(s.Languages) == 0 {
			errs = append(errs, fmt.Errorf("template %s: languages is required", key))
		}
		if s.Fallback != "" && !contains(s.Languages, s.Fallback) {
			errs = append(errs, fmt.Errorf("template %s: fallback %q is not one of its languages %v", key, s.Fallback, s.Languages))
		}
		all := []Params{s.Params}
		for lang, p := range s.Localized {
			if !contains(s.Languages, lang) {
				errs = append(errs, fmt.Errorf("template %s: localized language %q is not one of its languages", key, lang))
			}
			all = append(all, p)
		}
		for _, p := range all {
			for _, b := range p.Buttons {
				if b.SubType != "url" && b.SubType != "quick_reply" {
					errs = append(errs, fmt.Errorf("template %s: button %d: sub_type must be url or quick_reply", key, b.Index))
				}
				if b.Index < 0 || b.Index > 9 {
					errs = append(errs, fmt.Errorf("template %s: button index %d out of 0..9", key, b.Index))
				}
			}
			for _, expr := range p.expressions() {
				if _, ok := r.compiled[expr]; ok {
					continue
				}
				t, err := template.New("").Funcs(funcs).Option("missingkey=error").Parse(expr)
				if err != nil {
					errs = append(errs, fmt.Errorf("template %s: %w", key, err))
					continue
				}
				r.compiled[expr] = t
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Name returns the WhatsApp template name configured under key.
func (r *Renderer) Name(key string) string { return r.specs[key].Name }

// Has reports whether a template is configured under key.
func (r *Renderer) Has(key string) bool { _, ok := r.specs[key]; return ok }

func (p Params) expressions() []string {
	out := append(append([]string(nil), p.Header...), p.Body...)
	for _, b := range p.Buttons {
		out = append(out, b.Text, b.Payload)
	}
	return out
}

// ResolveLanguage picks the language to send: the recipient's exact
// language if approved, else its base language ("pt" for "pt-BR"), else a
// regional variant of the base ("es_MX" for "es"), else the fallback, else
// the first approved language.
func ResolveLanguage(want string, approved []string, fallback string) string {
	w := normalizeLang(want)
	if w != "" {
		for _, a := range approved {
			if strings.EqualFold(normalizeLang(a), w) {
				return a
			}
		}
		base, _, _ := strings.Cut(w, "_")
		for _, a := range approved {
			if strings.EqualFold(a, base) {
				return a
			}
		}
		for _, a := range approved {
			if ab, _, _ := strings.Cut(normalizeLang(a), "_"); strings.EqualFold(ab, base) {
				return a
			}
		}
	}
	if fallback != "" {
		return fallback
	}
	if len(approved) > 0 {
		return approved[0]
	}
	return ""
}

// normalizeLang turns BCP 47 ("pt-BR") into WhatsApp's form ("pt_BR").
func normalizeLang(l string) string {
	l = strings.TrimSpace(strings.ReplaceAll(l, "-", "_"))
	base, region, ok := strings.Cut(l, "_")
	if !ok {
		return strings.ToLower(base)
	}
	return strings.ToLower(base) + "_" + strings.ToUpper(region)
}

// Render builds the message for template key in the recipient's language.
func (r *Renderer) Render(key, language string, d Data) (notifier.Message, error) {
	s, ok := r.specs[key]
	if !ok {
		return notifier.Message{}, fmt.Errorf("no template configured as %q", key)
	}
	lang := ResolveLanguage(language, s.Languages, s.Fallback)
	p := s.Params
	if lp, ok := s.Localized[lang]; ok {
		p = merge(p, lp)
	}
	msg := notifier.Message{Template: s.Name, Category: s.Category, Language: lang}
	text := func(section string, exprs []string) ([]notifier.Parameter, error) {
		out := make([]notifier.Parameter, 0, len(exprs))
		for i, e := range exprs {
			v, err := r.exec(e, d)
			if err != nil {
				return nil, fmt.Errorf("template %s %s parameter %d: %w", key, section, i+1, err)
			}
			out = append(out, notifier.Parameter{Type: "text", Text: v})
		}
		return out, nil
	}
	if len(p.Header) > 0 {
		ps, err := text("header", p.Header)
		if err != nil {
			return msg, err
		}
		msg.Components = append(msg.Components, notifier.Component{Type: "header", Parameters: ps})
	}
	if len(p.Body) > 0 {
		ps, err := text("body", p.Body)
		if err != nil {
			return msg, err
		}
		msg.Components = append(msg.Components, notifier.Component{Type: "body", Parameters: ps})
	}
	for _, b := range p.Buttons {
		c := notifier.Component{Type: "button", SubType: b.SubType, Index: fmt.Sprint(b.Index)}
		if b.SubType == "quick_reply" {
			v, err := r.exec(b.Payload, d)
			if err != nil {
				return msg, fmt.Errorf("template %s button %d payload: %w", key, b.Index, err)
			}
			c.Parameters = []notifier.Parameter{{Type: "payload", Payload: v}}
		} else {
			v, err := r.exec(b.Text, d)
			if err != nil {
				return msg, fmt.Errorf("template %s button %d text: %w", key, b.Index, err)
			}
			c.Parameters = []notifier.Parameter{{Type: "text", Text: v}}
		}
		msg.Components = append(msg.Components, c)
	}
	return msg, nil
}

// exec renders one expression. WhatsApp rejects empty parameters and ones
// with new lines, tabs or runs of spaces, so those are cleaned or refused here.
func (r *Renderer) exec(expr string, d Data) (string, error) {
	t, ok := r.compiled[expr]
	if !ok {
		return "", fmt.Errorf("expression %q was not compiled", expr)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	v := strings.Join(strings.Fields(b.String()), " ")
	if v == "" {
		return "", fmt.Errorf("expression %q rendered empty", expr)
	}
	return v, nil
}

func merge(base, over Params) Params {
	if over.Header != nil {
		base.Header = over.Header
	}
	if over.Body != nil {
		base.Body = over.Body
	}
	if over.Buttons != nil {
		base.Buttons = over.Buttons
	}
	return base
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
