package template_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/template"
)

func TestResolveLanguage(t *testing.T) {
	approved := []string{"en", "es", "es_MX", "pt_BR"}
	tests := []struct {
		name, want, fallback, expect string
	}{
		{"exact match", "es", "en", "es"},
		{"BCP 47 hyphen form matches the underscore form", "pt-BR", "en", "pt_BR"},
		{"case is ignored", "PT_br", "en", "pt_BR"},
		{"region falls back to the base language", "es-AR", "en", "es"},
		{"base language picks a regional variant", "pt", "en", "pt_BR"},
		{"unapproved language takes the fallback", "de", "en", "en"},
		{"empty language takes the fallback", "", "es", "es"},
		{"no fallback takes the first approved", "de", "", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := template.ResolveLanguage(tt.want, approved, tt.fallback); got != tt.expect {
				t.Errorf("ResolveLanguage(%q) = %q, want %q", tt.want, got, tt.expect)
			}
		})
	}
}

func specs() map[string]template.Spec {
	return map[string]template.Spec{
		"shipped": {
			Name: "shipment_shipped", Category: "UTILITY", Languages: []string{"en", "es", "pt_BR"}, Fallback: "en",
			Params: template.Params{
				Body:    []string{`{{default "customer" .Name}}`, "{{.Event.ShipmentID}}", "{{date .Event.ExpectedDeliveryAt}}"},
				Buttons: []template.Button{{SubType: "url", Index: 0, Text: "{{pathescape .Event.ShipmentID}}"}, {SubType: "quick_reply", Index: 1, Payload: "STOP"}},
			},
			Localized: map[string]template.Params{
				"es": {Body: []string{`{{default "cliente" .Name}}`, "{{.Event.ShipmentID}}", "{{date .Event.ExpectedDeliveryAt}}"}},
			},
		},
	}
}

func event() notifier.Event {
	return notifier.Event{Type: "shipment.shipped", ShipmentID: "SHP 1", ExpectedDeliveryAt: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)}
}

func bodyTexts(m notifier.Message) []string {
	for _, c := range m.Components {
		if c.Type == "body" {
			var out []string
			for _, p := range c.Parameters {
				out = append(out, p.Text)
			}
			return out
		}
	}
	return nil
}

func TestRenderPerLanguageWithFallback(t *testing.T) {
	r, err := template.New(specs())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, lang, contactName, wantLang string
		wantBody                          []string
	}{
		{"Portuguese buyer gets pt_BR", "pt-BR", "Ana", "pt_BR", []string{"Ana", "SHP 1", "2026-12-10"}},
		{"Spanish buyer gets the localized parameters", "es", "", "es", []string{"cliente", "SHP 1", "2026-12-10"}},
		{"German buyer falls back to English", "de", "", "en", []string{"customer", "SHP 1", "2026-12-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Render("shipped", tt.lang, template.Data{Event: event(), Name: tt.contactName})
			if err != nil {
				t.Fatal(err)
			}
			if m.Template != "shipment_shipped" || m.Language != tt.wantLang {
				t.Errorf("template %s/%s, want shipment_shipped/%s", m.Template, m.Language, tt.wantLang)
			}
			if got := bodyTexts(m); strings.Join(got, "|") != strings.Join(tt.wantBody, "|") {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if len(m.Components) != 3 || m.Components[1].SubType != "url" || m.Components[1].Parameters[0].Text != "SHP%201" ||
				m.Components[2].Parameters[0].Type != "payload" || m.Components[2].Parameters[0].Payload != "STOP" {
				t.Errorf("buttons = %+v", m.Components[1:])
			}
		})
	}
}

func TestRenderRefusesEmptyParameters(t *testing.T) {
	s := specs()
	sp := s["shipped"]
	sp.Body = []string{"{{.Event.Product}}"}
	s["shipped"] = sp
	r, err := template.New(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Render("shipped", "en", template.Data{Event: event()}); err == nil {
		t.Fatal("an empty body parameter rendered without error; WhatsApp would reject it")
	}
}

func TestRenderFlattensWhitespaceWhatsAppRejects(t *testing.T) {
	s := specs()
	sp := s["shipped"]
	sp.Body = []string{"{{.Event.Product}}"}
	s["shipped"] = sp
	r, _ := template.New(s)
	ev := event()
	ev.Product = "Green coffee,\n\tlot     L-42"
	m, err := r.Render("shipped", "en", template.Data{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	if got := bodyTexts(m)[0]; got != "Green coffee, lot L-42" {
		t.Errorf("body = %q", got)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec template.Spec
		want string
	}{
		{"unparsable expression", template.Spec{Name: "x", Languages: []string{"en"}, Params: template.Params{Body: []string{"{{.Event"}}}, "unclosed"},
		{"fallback not approved", template.Spec{Name: "x", Languages: []string{"en"}, Fallback: "de"}, "fallback"},
		{"no languages", template.Spec{Name: "x"}, "languages"},
		{"bad button type", template.Spec{Name: "x", Languages: []string{"en"}, Params: template.Params{Buttons: []template.Button{{SubType: "phone"}}}}, "sub_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := template.New(map[string]template.Spec{"t": tt.spec})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
