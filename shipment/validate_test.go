package shipment

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidNewShipmentPasses(t *testing.T) {
	if err := validNew().Validate(exporterMSP, t0); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestNewShipmentValidationNamesFieldAndRule(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		change func(n *NewShipment)
		want   string // field and the start of the rule
	}{
		{"id too short", func(n *NewShipment) { n.ID = "AB" }, "id: must be 3 to 64"},
		{"id too long", func(n *NewShipment) { n.ID = strings.Repeat("A", 65) }, "id: must be 3 to 64"},
		{"id with space", func(n *NewShipment) { n.ID = "SHP 1" }, "id: must be 3 to 64"},
		{"id with composite-key separator", func(n *NewShipment) { n.ID = "SHP\x001" }, "id: must be"},
		{"id starting with dash", func(n *NewShipment) { n.ID = "-SHP1" }, "id: must be"},
		{"buyer missing", func(n *NewShipment) { n.Buyer = "" }, "buyer: must be an MSP ID"},
		{"buyer is exporter", func(n *NewShipment) { n.Buyer = exporterMSP }, "buyer: must not be the exporter"},
		{"carrier is buyer", func(n *NewShipment) { n.Carrier = buyerMSP }, "carrier: must differ"},
		{"carrier malformed", func(n *NewShipment) { n.Carrier = "Carrier MSP" }, "carrier: must be an MSP ID"},
		{"buyerRef with phone-like plus", func(n *NewShipment) { n.BuyerRef = "+4915123456789" }, "buyerRef: must be 1 to 64"},
		{"buyerRef with e-mail", func(n *NewShipment) { n.BuyerRef = "ana@example.com" }, "buyerRef: must be 1 to 64"},
		{"no gtin nor sku", func(n *NewShipment) { n.Product.GTIN = "" }, "product.gtin: gtin or sku is required"},
		{"gtin wrong check digit", func(n *NewShipment) { n.Product.GTIN = "4006381333932" }, "product.gtin: has a wrong GS1 check digit"},
		{"gtin wrong length", func(n *NewShipment) { n.Product.GTIN = "12345" }, "product.gtin: must be 8, 12, 13 or 14 digits"},
		{"sku malformed", func(n *NewShipment) { n.Product.SKU = "a b" }, "product.sku: must be"},
		{"lot missing", func(n *NewShipment) { n.Product.Lot = "" }, "product.lot: is required"},
		{"description control char", func(n *NewShipment) { n.Product.Description = "a\nb" }, "product.description: must not contain control characters"},
		{"description too long", func(n *NewShipment) { n.Product.Description = strings.Repeat("é", 201) }, "product.description: must be at most 200"},
		{"quantity zero", func(n *NewShipment) { n.Product.Quantity = 0 }, "product.quantity: must be greater than 0"},
		{"quantity NaN", func(n *NewShipment) { n.Product.Quantity = math.NaN() }, "product.quantity: must be greater than 0"},
		{"quantity huge", func(n *NewShipment) { n.Product.Quantity = 2e9 }, "product.quantity: must be greater than 0 and at most"},
		{"unit unknown", func(n *NewShipment) { n.Product.Unit = "lbs" }, "product.unit: must be one of"},
		{"origin country lower case", func(n *NewShipment) { n.Origin.Country = "br" }, "origin.country: must be an ISO 3166-1"},
		{"destination country unassigned", func(n *NewShipment) { n.Destination.Country = "XX" }, "destination.country: must be an ISO 3166-1"},
		{"destination gln check digit", func(n *NewShipment) { n.Destination.GLN = "4012345000008" }, "destination.gln: has a wrong GS1 check digit"},
		{"origin name missing", func(n *NewShipment) { n.Origin.Name = "" }, "origin.name: is required"},
		{"min not below max", func(n *NewShipment) { n.ColdChain.MinC = 8 }, "coldChain.maxC: must be greater than minC"},
		{"max implausible", func(n *NewShipment) { n.ColdChain.MaxC = 150 }, "coldChain.maxC: must be between -100 and 100"},
		{"min infinite", func(n *NewShipment) { n.ColdChain.MinC = math.Inf(-1) }, "coldChain.minC: must be between"},
		{"excursion negative", func(n *NewShipment) { n.ColdChain.MaxExcursionMinutes = -1 }, "coldChain.maxExcursionMinutes: must be between 0 and 10080"},
		{"hard min inside band", func(n *NewShipment) { n.ColdChain.HardMinC = f(3) }, "coldChain.hardMinC: must be below minC"},
		{"hard max inside band", func(n *NewShipment) { n.ColdChain.HardMaxC = f(8) }, "coldChain.hardMaxC: must be above maxC"},
		{"expected delivery missing", func(n *NewShipment) { n.ExpectedDeliveryAt = time.Time{} }, "expectedDeliveryAt: is required"},
		{"expected delivery in the past", func(n *NewShipment) { n.ExpectedDeliveryAt = t0.Add(-time.Hour) }, "expectedDeliveryAt: must be after the transaction time"},
		{"expected delivery absurd", func(n *NewShipment) { n.ExpectedDeliveryAt = time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC) }, "expectedDeliveryAt: must be between the years"},
		{"currency lower case", func(n *NewShipment) { n.Terms.Currency = "eur" }, "terms.currency: must be an ISO 4217"},
		{"amount zero", func(n *NewShipment) { n.Terms.InvoiceAmountMinor = 0 }, "terms.invoiceAmountMinor: must be between 1"},
		{"amount beyond exact range", func(n *NewShipment) { n.Terms.InvoiceAmountMinor = MaxAmountMinor + 1 }, "terms.invoiceAmountMinor: must be between 1"},
		{"penalty above 100%", func(n *NewShipment) { n.Terms.LatePenaltyBpsPerDay = 10_001 }, "terms.latePenaltyBpsPerDay: must be between 0 and 10000"},
		{"cap negative", func(n *NewShipment) { n.Terms.LatePenaltyCapBps = -1 }, "terms.latePenaltyCapBps: must be between 0 and 10000"},
		{"breach refund above 100%", func(n *NewShipment) { n.Terms.BreachRefundBps = 20_000 }, "terms.breachRefundBps: must be between 0 and 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := validNew()
			tt.change(&n)
			err := n.Validate(exporterMSP, t0)
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidationReportsEveryProblemAtOnce(t *testing.T) {
	n := validNew()
	n.ID, n.Product.Unit, n.Origin.Country = "x", "lbs", "ZZ"
	err := n.Validate(exporterMSP, t0)
	for _, field := range []string{"id:", "product.unit:", "origin.country:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func TestDecodeNewShipmentIsStrict(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown field", `{"id":"SHP-1","exporter":"X"}`, "unknown field"},
		{"trailing data", `{"id":"SHP-1"} {}`, "unexpected data after"},
		{"wrong type", `{"id":7}`, `field "id" must be a string`},
		{"bad time", `{"expectedDeliveryAt":"tomorrow"}`, "RFC 3339"},
		{"not JSON", `<xml/>`, "syntax error"},
		{"too large", `"` + strings.Repeat("a", MaxDecodeBytes) + `"`, "must be at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeNewShipment([]byte(tt.in))
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestContactValidationNeverEchoesPersonalData(t *testing.T) {
	tests := []struct {
		name  string
		c     Contact
		field string
	}{
		{"phone without plus", Contact{Phone: "4915123456789", Name: "Ana Souza", Language: "pt_BR"}, "buyerContact.phone"},
		{"phone too short", Contact{Phone: "+49151", Name: "Ana Souza", Language: "pt_BR"}, "buyerContact.phone"},
		{"name missing", Contact{Phone: "+4915123456789", Language: "pt_BR"}, "buyerContact.name"},
		{"language malformed", Contact{Phone: "+4915123456789", Name: "Ana Souza", Language: "Portuguese"}, "buyerContact.language"},
		{"time zone not IANA", Contact{Phone: "+4915123456789", Name: "Ana Souza", Language: "pt_BR", TimeZone: "GMT-3"}, "buyerContact.timeZone"},
		{"time zone a path", Contact{Phone: "+4915123456789", Name: "Ana Souza", Language: "pt_BR", TimeZone: "../../etc/passwd"}, "buyerContact.timeZone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %q does not name %s", err, tt.field)
			}
			for _, secret := range []string{tt.c.Phone, tt.c.Name, tt.c.Language} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q echoes %q", err, secret)
				}
			}
		})
	}
	for _, tz := range []string{"", "UTC", "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "Etc/GMT+3"} {
		if err := (Contact{Phone: "+4915123456789", Name: "Ana Souza", Language: "pt_BR", Consent: true, TimeZone: tz}).Validate(); err != nil {
			t.Fatalf("valid contact (time zone %q): %v", tz, err)
		}
	}
}

func TestDocumentValidation(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		d    Document
		want string
	}{
		{"valid", Document{Type: "bill_of_lading", SHA256: sum}, ""},
		{"valid with https uri", Document{Type: "delivery_photo", SHA256: sum, URI: "https://files.example/p.jpg"}, ""},
		{"EUDR evidence", Document{Type: "deforestation_analysis", SHA256: sum}, ""},
		{"land title", Document{Type: "land_title", SHA256: sum}, ""},
		{"legality certificate", Document{Type: "legality_certificate", SHA256: sum}, ""},
		{"unknown type", Document{Type: "selfie", SHA256: sum}, "document.type: must be one of"},
		{"upper-case digest", Document{Type: "other", SHA256: strings.ToUpper(sum)}, "document.sha256: must be 64 lower-case"},
		{"short digest", Document{Type: "other", SHA256: "abc"}, "document.sha256"},
		{"http uri", Document{Type: "other", SHA256: sum, URI: "http://x"}, "document.uri: must start with https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
			if tt.want == "" {
				wantCode(t, err, "")
				return
			}
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestGS1CheckDigit(t *testing.T) {
	for _, ok := range []string{"4006381333931", "96385074", "036000291452", "10614141000415", "4012345000009"} {
		if !gs1CheckDigitOK(ok) {
			t.Errorf("%s: check digit rejected", ok)
		}
	}
	for _, bad := range []string{"4006381333930", "96385075"} {
		if gs1CheckDigitOK(bad) {
			t.Errorf("%s: wrong check digit accepted", bad)
		}
	}
}
