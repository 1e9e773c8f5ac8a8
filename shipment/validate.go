package shipment

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on client input. They bound the size of every value written to the
// ledger and keep composite keys well formed.
const (
	MaxIDLen          = 64
	MaxTextLen        = 200
	MaxReasonLen      = 500
	MaxDocuments      = 50
	MaxBatchReadings  = 1000
	MaxSensors        = 64
	MinCelsius        = -100.0
	MaxCelsius        = 100.0
	MaxQuantity       = 1e9
	MaxExcursionLimit = 7 * 24 * 60 // minutes
	MaxAmountMinor    = 100_000_000_000_000
	MaxDecodeBytes    = 1 << 20
)

var (
	idPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)
	mspPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	buyerRefPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)
	sensorPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	skuPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`)
	sha256Pattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	phonePattern    = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,3}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	timeZonePattern = regexp.MustCompile(`^(UTC|[A-Z][A-Za-z_-]{1,31}(/[A-Z][A-Za-z0-9_+-]{0,31}){1,2})$`)
	digitsPattern   = regexp.MustCompile(`^[0-9]+$`)
)

// Units are the accepted quantity units.
var Units = []string{"kg", "t", "l", "m3", "pcs", "box", "bag", "carton", "pallet", "container"}

// DocumentTypes are the accepted document types. The last three are the
// EUDR's evidence (Regulation (EU) 2023/1115, Articles 9(1)(g)-(h) and 10):
// a satellite or field analysis showing the plots free of deforestation
// since the 2020-12-31 cut-off, proof of the right to use the land, and a
// certificate or audit of legal production. Like every document they are
// attached by hash only; the files stay with their owners.
var DocumentTypes = []string{
	"certificate_of_origin", "phytosanitary_certificate", "quality_certificate",
	"organic_certificate", "bill_of_lading", "commercial_invoice", "packing_list",
	"customs_declaration", "delivery_photo", "other",
	"deforestation_analysis", "land_title", "legality_certificate",
}

// IsEUDREvidence reports whether a document type is EUDR evidence (the last
// three of DocumentTypes), which the tracking page lists by kind beside the
// plots' summary.
func IsEUDREvidence(docType string) bool {
	switch docType {
	case "deforestation_analysis", "land_title", "legality_certificate":
		return true
	}
	return false
}

// problems collects every rule a value breaks, so a client fixes its request
// in one round trip. Each entry names the field and the rule.
type problems []string

func (p *problems) addf(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Message: strings.Join(p, "; ")}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// ValidateID checks a shipment id: 3 to 64 characters, letters, digits, '.',
// '_' or '-', starting with a letter or digit.
func ValidateID(id string) error {
	var p problems
	checkID(&p, "id", id)
	return p.err()
}

func checkID(p *problems, field, id string) {
	if !idPattern.MatchString(id) {
		p.addf(field, "must be 3 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
}

// ValidateMSPID checks an organisation's MSP ID.
func ValidateMSPID(field, msp string) error {
	var p problems
	checkMSP(&p, field, msp)
	return p.err()
}

func checkMSP(p *problems, field, msp string) {
	if !mspPattern.MatchString(msp) {
		p.addf(field, "must be an MSP ID of 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
	}
}

func checkText(p *problems, field, s string, min, max int) {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		p.addf(field, "must be valid UTF-8")
	case n < min:
		if min == 1 {
			p.addf(field, "is required")
		} else {
			p.addf(field, "must be at least %d characters", min)
		}
	case n > max:
		p.addf(field, "must be at most %d characters", max)
	default:
		for _, r := range s {
			if r < 0x20 || r == 0x7f {
				p.addf(field, "must not contain control characters")
				return
			}
		}
	}
}

func checkTime(p *problems, field string, t time.Time) {
	if t.IsZero() {
		p.addf(field, "is required (RFC 3339)")
		return
	}
	if t.Year() < 2000 || t.Year() > 2199 {
		p.addf(field, "must be between the years 2000 and 2199")
	}
}

// gs1CheckDigitOK verifies the GS1 mod-10 check digit used by GTINs and GLNs.
func gs1CheckDigitOK(digits string) bool {
	sum := 0
	n := len(digits)
	for i := 0; i < n-1; i++ {
		d := int(digits[n-2-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(digits[n-1]-'0')
}

func checkGS1(p *problems, field, v string, lengths ...int) {
	okLen := false
	for _, l := range lengths {
		if len(v) == l {
			okLen = true
		}
	}
	if !okLen || !digitsPattern.MatchString(v) {
		p.addf(field, "must be %s digits", joinInts(lengths))
		return
	}
	if !gs1CheckDigitOK(v) {
		p.addf(field, "has a wrong GS1 check digit")
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func checkCelsius(p *problems, field string, c float64) {
	if !finite(c) || c < MinCelsius || c > MaxCelsius {
		p.addf(field, "must be between %g and %g °C", MinCelsius, MaxCelsius)
	}
}

// Validate checks the product description.
func (pr Product) validate(p *problems, field string) {
	switch {
	case pr.GTIN == "" && pr.SKU == "":
		p.addf(field+".gtin", "gtin or sku is required")
	case pr.GTIN != "":
		checkGS1(p, field+".gtin", pr.GTIN, 8, 12, 13, 14)
	}
	if pr.SKU != "" && !skuPattern.MatchString(pr.SKU) {
		p.addf(field+".sku", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '/' or '-'")
	}
	checkText(p, field+".lot", pr.Lot, 1, MaxIDLen)
	checkText(p, field+".description", pr.Description, 1, MaxTextLen)
	if !finite(pr.Quantity) || pr.Quantity <= 0 || pr.Quantity > MaxQuantity {
		p.addf(field+".quantity", "must be greater than 0 and at most %g", MaxQuantity)
	}
	if !contains(Units, pr.Unit) {
		p.addf(field+".unit", "must be one of %s", strings.Join(Units, ", "))
	}
}

func (pl Place) validate(p *problems, field string) {
	checkText(p, field+".name", pl.Name, 1, MaxTextLen)
	if !validCountry(pl.Country) {
		p.addf(field+".country", "must be an ISO 3166-1 alpha-2 country code (e.g. DE)")
	}
	if pl.GLN != "" {
		checkGS1(p, field+".gln", pl.GLN, 13)
	}
}

func (c ColdChainPolicy) validate(p *problems, field string) {
	checkCelsius(p, field+".minC", c.MinC)
	checkCelsius(p, field+".maxC", c.MaxC)
	if finite(c.MinC) && finite(c.MaxC) && c.MinC >= c.MaxC {
		p.addf(field+".maxC", "must be greater than minC")
	}
	if c.MaxExcursionMinutes < 0 || c.MaxExcursionMinutes > MaxExcursionLimit {
		p.addf(field+".maxExcursionMinutes", "must be between 0 and %d", MaxExcursionLimit)
	}
	if c.HardMinC != nil {
		checkCelsius(p, field+".hardMinC", *c.HardMinC)
		if *c.HardMinC >= c.MinC {
			p.addf(field+".hardMinC", "must be below minC")
		}
	}
	if c.HardMaxC != nil {
		checkCelsius(p, field+".hardMaxC", *c.HardMaxC)
		if *c.HardMaxC <= c.MaxC {
			p.addf(field+".hardMaxC", "must be above maxC")
		}
	}
}

func (t Terms) validate(p *problems, field string) {
	if !currencyPattern.MatchString(t.Currency) {
		p.addf(field+".currency", "must be an ISO 4217 code of three upper-case letters (e.g. EUR)")
	}
	if t.InvoiceAmountMinor <= 0 || t.InvoiceAmountMinor > MaxAmountMinor {
		p.addf(field+".invoiceAmountMinor", "must be between 1 and %d minor units", int64(MaxAmountMinor))
	}
	checkBps(p, field+".latePenaltyBpsPerDay", t.LatePenaltyBpsPerDay)
	checkBps(p, field+".latePenaltyCapBps", t.LatePenaltyCapBps)
	checkBps(p, field+".breachRefundBps", t.BreachRefundBps)
}

func checkBps(p *problems, field string, v int64) {
	if v < 0 || v > 10_000 {
		p.addf(field, "must be between 0 and 10000 basis points")
	}
}

// Validate checks a creation request against every rule that does not depend
// on the ledger; now is the transaction time and exporter the caller's MSP ID.
func (n NewShipment) Validate(exporter string, now time.Time) error {
	var p problems
	checkID(&p, "id", n.ID)
	checkMSP(&p, "buyer", n.Buyer)
	if n.Buyer == exporter {
		p.addf("buyer", "must not be the exporter's own organisation")
	}
	if n.Carrier != "" {
		checkMSP(&p, "carrier", n.Carrier)
		if n.Carrier == exporter || n.Carrier == n.Buyer {
			p.addf("carrier", "must differ from the exporter and the buyer")
		}
	}
	if !buyerRefPattern.MatchString(n.BuyerRef) {
		p.addf("buyerRef", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':', '/' or '-' (an opaque reference, no personal data)")
	}
	n.Product.validate(&p, "product")
	n.Origin.validate(&p, "origin")
	n.Destination.validate(&p, "destination")
	n.ColdChain.validate(&p, "coldChain")
	checkTime(&p, "expectedDeliveryAt", n.ExpectedDeliveryAt)
	if !n.ExpectedDeliveryAt.IsZero() && !n.ExpectedDeliveryAt.After(now) {
		p.addf("expectedDeliveryAt", "must be after the transaction time %s", now.UTC().Format(time.RFC3339))
	}
	if n.Terms != nil {
		n.Terms.validate(&p, "terms")
	}
	return p.err()
}

// Validate checks a document before it is attached.
func (d Document) Validate() error {
	var p problems
	if !contains(DocumentTypes, d.Type) {
		p.addf("document.type", "must be one of %s", strings.Join(DocumentTypes, ", "))
	}
	if !sha256Pattern.MatchString(d.SHA256) {
		p.addf("document.sha256", "must be 64 lower-case hexadecimal characters")
	}
	if d.URI != "" {
		checkText(&p, "document.uri", d.URI, 1, 512)
		if !strings.HasPrefix(d.URI, "https://") && !strings.HasPrefix(d.URI, "ipfs://") {
			p.addf("document.uri", "must start with https:// or ipfs://")
		}
	}
	return p.err()
}

// Validate checks a buyer contact. Messages never echo the values: they are
// personal data.
func (c Contact) Validate() error {
	var p problems
	if !phonePattern.MatchString(c.Phone) {
		p.addf("buyerContact.phone", "must be an E.164 number: + then 7 to 15 digits, no spaces")
	}
	checkText(&p, "buyerContact.name", c.Name, 1, 100)
	if !languagePattern.MatchString(c.Language) {
		p.addf("buyerContact.language", "must be a BCP 47 language tag such as es or pt_BR")
	}
	// The form only: whether the zone exists depends on each machine's
	// time zone database, which the contract must not consult.
	if c.TimeZone != "" && !timeZonePattern.MatchString(c.TimeZone) {
		p.addf("buyerContact.timeZone", "must be an IANA time zone such as Europe/Berlin or America/Sao_Paulo")
	}
	return p.err()
}

// ValidateReason checks the free-text reason of a rejection or cancellation.
func ValidateReason(reason string) error {
	var p problems
	checkText(&p, "reason", reason, 1, MaxReasonLen)
	return p.err()
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing
// data, so a typo in a field name is an error rather than a silent default.
func decodeStrict(field string, data []byte, v any) error {
	if len(data) > MaxDecodeBytes {
		return Errorf(Invalid, "%s: must be at most %d bytes", field, MaxDecodeBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(Invalid, "%s: not valid JSON for this type: %s", field, jsonProblem(err))
	}
	if dec.More() {
		return Errorf(Invalid, "%s: unexpected data after the JSON value", field)
	}
	return nil
}

// jsonProblem describes a decoding error without echoing input values.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be a %s", e.Field, e.Type)
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *time.ParseError:
		return "a time is not RFC 3339"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	if strings.Contains(msg, "parsing time") {
		return "a time is not RFC 3339"
	}
	return "malformed input"
}

// DecodeNewShipment parses a creation request strictly. It does not validate
// the rules; call Validate with the caller and transaction time.
func DecodeNewShipment(data []byte) (NewShipment, error) {
	var n NewShipment
	err := decodeStrict("shipment", data, &n)
	return n, err
}

// DecodeDocument parses a document strictly and validates it.
func DecodeDocument(data []byte) (Document, error) {
	var d struct {
		Type   string `json:"type"`
		SHA256 string `json:"sha256"`
		URI    string `json:"uri,omitempty"`
	}
	if err := decodeStrict("document", data, &d); err != nil {
		return Document{}, err
	}
	doc := Document{Type: d.Type, SHA256: d.SHA256, URI: d.URI}
	return doc, doc.Validate()
}

// DecodeContact parses a buyer contact strictly and validates it.
func DecodeContact(data []byte) (Contact, error) {
	var c Contact
	if err := decodeStrict("buyerContact", data, &c); err != nil {
		return Contact{}, err
	}
	return c, c.Validate()
}
