package config

import (
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/template"
)

// DefaultRules are used when the configuration has none: the buyer hears
// about shipping, delivery and a cold-chain breach; the exporter's
// operations number about a breach and an overdue shipment.
func DefaultRules() []decide.Rule {
	return []decide.Rule{
		// An A/B test of the shipped message's wording, half and half.
		{Event: notifier.EventShipped, To: notifier.RoleBuyer, Variants: []decide.Variant{
			{Name: "A", Template: "shipment_shipped", Weight: 1},
			{Name: "B", Template: "shipment_shipped_v2", Weight: 1},
		}},
		{Event: notifier.EventDelivered, To: notifier.RoleBuyer, Template: "shipment_delivered"},
		{Event: notifier.EventColdChainBreached, To: notifier.RoleBuyer, Template: "coldchain_breach_buyer"},
		{Event: notifier.EventColdChainBreached, To: notifier.RoleOps, Template: "coldchain_breach_ops"},
		{Event: notifier.EventOverdue, To: notifier.RoleOps, Template: "shipment_overdue_ops"},
	}
}

// DefaultTemplates match DefaultRules. Their names and parameter counts
// must match templates approved in WhatsApp Manager; docs in notifier/README.md.
func DefaultTemplates() map[string]template.Spec {
	langs := []string{"en", "es", "pt_BR", "de", "fr"}
	name := `{{default "customer" .Name}}`
	stop := template.Button{SubType: "quick_reply", Index: 1, Payload: "STOP"}
	// The Track button's URL suffix: the signed link's token, or the
	// shipment ID when no tracking_secret is configured.
	track := template.Button{SubType: "url", Index: 0, Text: "{{default (pathescape .Event.ShipmentID) .TrackingToken}}"}
	// Quick replies that start a conversation (notifier/conversation):
	// their payload names the shipment, so the tap needs no question back.
	status := func(i int) template.Button {
		return template.Button{SubType: "quick_reply", Index: i, Payload: "STATUS:{{.Event.ShipmentID}}"}
	}
	problem := func(i int) template.Button {
		return template.Button{SubType: "quick_reply", Index: i, Payload: "CLAIM:{{.Event.ShipmentID}}"}
	}
	return map[string]template.Spec{
		"shipment_shipped": {
			Name: "shipment_shipped", Category: "UTILITY", Languages: langs, Fallback: "en",
			Params: template.Params{
				Body: []string{name, "{{.Event.ShipmentID}}", `{{default "your goods" .Event.Product}}`,
					`{{default "-" .Event.Destination}}`, `{{default "to be confirmed" (date .Event.ExpectedDeliveryAt)}}`},
				Buttons: []template.Button{track, stop, status(2)},
			},
		},
		// Variant B of shipment_shipped: the same parameters under another
		// approved wording (its text lives in WhatsApp Manager), so only
		// the wording is tested, not the data.
		"shipment_shipped_v2": {
			Name: "shipment_shipped_v2", Category: "UTILITY", Languages: langs, Fallback: "en",
			Params: template.Params{
				Body: []string{name, "{{.Event.ShipmentID}}", `{{default "your goods" .Event.Product}}`,
					`{{default "-" .Event.Destination}}`, `{{default "to be confirmed" (date .Event.ExpectedDeliveryAt)}}`},
				Buttons: []template.Button{track, stop, status(2)},
			},
		},
		"shipment_delivered": {
			Name: "shipment_delivered", Category: "UTILITY", Languages: langs, Fallback: "en",
			Params: template.Params{
				Body:    []string{name, "{{.Event.ShipmentID}}", `{{default "your goods" .Event.Product}}`, "{{date .Event.Time}}"},
				Buttons: []template.Button{track, stop, problem(2)},
			},
		},
		"coldchain_breach_buyer": {
			Name: "coldchain_breach", Category: "UTILITY", Languages: langs, Fallback: "en",
			Params: template.Params{
				Body: []string{name, "{{.Event.ShipmentID}}", `{{default "your goods" .Event.Product}}`,
					"{{with .Event.ColdChain}}{{celsius .MinC}}{{else}}?{{end}}", "{{with .Event.ColdChain}}{{celsius .MaxC}}{{else}}?{{end}}"},
				Buttons: []template.Button{track, problem(1)},
			},
		},
		"coldchain_breach_ops": {
			Name: "ops_coldchain_breach", Category: "UTILITY", Languages: []string{"en", "es"}, Fallback: "en",
			Params: template.Params{
				Body: []string{"{{.Event.ShipmentID}}", `{{default "-" .Event.Product}}`, `{{default "-" .Event.Custodian}}`,
					"{{with .Event.ColdChain}}{{celsius .MinC}}{{else}}?{{end}}", "{{with .Event.ColdChain}}{{celsius .MaxC}}{{else}}?{{end}}"},
			},
		},
		"shipment_overdue_ops": {
			Name: "ops_shipment_overdue", Category: "UTILITY", Languages: []string{"en", "es"}, Fallback: "en",
			Params: template.Params{
				Body: []string{"{{.Event.ShipmentID}}", `{{default "-" .Event.BuyerRef}}`, `{{default "unknown" (date .Event.ExpectedDeliveryAt)}}`},
			},
		},
	}
}
