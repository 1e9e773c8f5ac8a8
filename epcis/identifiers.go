package epcis

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/shiptrace/shiptrace/shipment"
)

// Identifiers say how members, products and sensors are named in EPCIS.
// GS1 identifiers are written as GS1 Digital Link URIs (https://id.gs1.org/...):
// they need no GS1 Company Prefix length, which the EPC URN forms do, except
// where a product asks for the LGTIN URN. Whatever has no GS1 identifier gets
// a shiptrace URN (the fallbacks below), so every event still validates and a
// capture can map it back.
type Identifiers struct {
	// Parties gives each member (by MSP ID) its party GLN (PGLN, GS1 AI 417).
	// Without one a member is urn:shiptrace:party:<MSP ID>.
	Parties map[string]string
	// Products override how a product is named, matched by GTIN or SKU.
	Products []ProductRule
}

// ProductRule names one product's class. A rule matched by SKU may give the
// GTIN the member registered for it since. Form is "digital_link" (default:
// https://id.gs1.org/01/<GTIN-14>/10/<lot>) or "lgtin_urn"
// (urn:epc:class:lgtin:<company prefix>.<indicator+item ref>.<lot>), which
// needs CompanyPrefixLength (6 to 12).
type ProductRule struct {
	GTIN                string `mapstructure:"gtin"`
	SKU                 string `mapstructure:"sku"`
	Form                string `mapstructure:"form"`
	CompanyPrefixLength int    `mapstructure:"company_prefix_length"`
}

// Product forms.
const (
	FormDigitalLink = "digital_link"
	FormLGTINURN    = "lgtin_urn"
)

// URN prefixes of the fallbacks.
const (
	partyURN    = "urn:shiptrace:party:"
	sensorURN   = "urn:shiptrace:sensor:"
	shipmentURN = "urn:shiptrace:shipment:"
	skuURN      = "urn:shiptrace:sku:"
	docTypeURN  = "urn:shiptrace:doctype:"
	poURN       = "urn:shiptrace:po:"
	digitalLink = "https://id.gs1.org/"
)

var digits = regexp.MustCompile(`^[0-9]+$`)

// Validate checks the configuration; messages name the key.
func (ids Identifiers) Validate() error {
	seen := map[string]string{}
	for msp, pgln := range ids.Parties {
		if err := shipment.ValidateMSPID("epcis.parties", msp); err != nil {
			return fmt.Errorf("epcis.parties: %q is not an MSP ID", msp)
		}
		if len(pgln) != 13 || !digits.MatchString(pgln) || !gs1CheckDigit(pgln) {
			return fmt.Errorf("epcis.parties.%s: %q is not a 13-digit GLN with a valid check digit", msp, pgln)
		}
		if other, dup := seen[pgln]; dup {
			return fmt.Errorf("epcis.parties: %s and %s have the same GLN %s", other, msp, pgln)
		}
		seen[pgln] = msp
	}
	for i, r := range ids.Products {
		key := fmt.Sprintf("epcis.products[%d]", i)
		if r.GTIN == "" && r.SKU == "" {
			return fmt.Errorf("%s: give a gtin or a sku", key)
		}
		if r.GTIN != "" && (!digits.MatchString(r.GTIN) || !oneOf(len(r.GTIN), 8, 12, 13, 14) || !gs1CheckDigit(r.GTIN)) {
			return fmt.Errorf("%s.gtin: %q is not a GTIN-8, -12, -13 or -14 with a valid check digit", key, r.GTIN)
		}
		switch r.Form {
		case "", FormDigitalLink:
		case FormLGTINURN:
			if r.CompanyPrefixLength < 6 || r.CompanyPrefixLength > 12 {
				return fmt.Errorf("%s.company_prefix_length: must be 6 to 12 for form %s", key, FormLGTINURN)
			}
		default:
			return fmt.Errorf("%s.form: must be %s or %s", key, FormDigitalLink, FormLGTINURN)
		}
	}
	return nil
}

func oneOf(n int, set ...int) bool {
	for _, v := range set {
		if n == v {
			return true
		}
	}
	return false
}

// gs1CheckDigit verifies the GS1 mod-10 check digit of a GTIN or GLN.
func gs1CheckDigit(s string) bool {
	sum := 0
	for i := len(s) - 2; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-2-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(s[len(s)-1]-'0')
}

// Party is a member's URI as owning or possessing party.
func (ids Identifiers) Party(msp string) string {
	if pgln, ok := ids.Parties[msp]; ok {
		return digitalLink + "417/" + pgln
	}
	return partyURN + msp
}

// MSPOf maps a party URI back to a member: the Digital Link
// (https://id.gs1.org/417/<pgln>) or EPC URN (urn:epc:id:pgln:...) of a
// configured PGLN, or the fallback URN.
func (ids Identifiers) MSPOf(uri string) (string, bool) {
	if msp, ok := strings.CutPrefix(uri, partyURN); ok {
		return msp, shipment.ValidateMSPID("party", msp) == nil
	}
	var pgln string
	if v, ok := strings.CutPrefix(uri, digitalLink+"417/"); ok {
		pgln = v
	} else if v, ok := strings.CutPrefix(uri, "urn:epc:id:pgln:"); ok {
		pgln = glnOfURN(v)
	}
	if pgln == "" {
		return "", false
	}
	for msp, want := range ids.Parties {
		if pgln == want {
			return msp, true
		}
	}
	return "", false
}

// glnOfURN turns the "<company prefix>.<party ref>" of a PGLN EPC URN into
// the 13-digit GLN, adding its check digit ("" if it is not one).
func glnOfURN(v string) string {
	prefix, ref, ok := strings.Cut(v, ".")
	body := prefix + ref
	if !ok || len(body) != 12 || !digits.MatchString(body) {
		return ""
	}
	for d := byte('0'); d <= '9'; d++ {
		if gs1CheckDigit(body + string(d)) {
			return body + string(d)
		}
	}
	return ""
}

// PlaceLocation is a place's readPoint or bizLocation: its GLN as a
// Digital Link (AI 414), or nothing when the place has no GLN.
func PlaceLocation(p shipment.Place) *Location {
	if p.GLN == "" {
		return nil
	}
	return &Location{ID: digitalLink + "414/" + p.GLN}
}

// Class is the product's class-level identifier with its lot (an LGTIN),
// by the first rule that matches it. A product with only a SKU and no rule
// giving it a GTIN is urn:shiptrace:sku:<exporter MSP>:<SKU>:<lot> (a SKU
// is only unique within its exporter).
func (ids Identifiers) Class(exporter string, p shipment.Product) string {
	rule := ProductRule{GTIN: p.GTIN}
	for _, r := range ids.Products {
		if (p.GTIN != "" && r.GTIN == p.GTIN) || (p.GTIN == "" && r.SKU != "" && r.SKU == p.SKU) {
			rule = r
			if rule.GTIN == "" {
				rule.GTIN = p.GTIN
			}
			break
		}
	}
	if rule.GTIN == "" {
		return skuURN + exporter + ":" + escapeEPC(p.SKU) + ":" + escapeEPC(p.Lot)
	}
	gtin := strings.Repeat("0", 14-len(rule.GTIN)) + rule.GTIN
	if rule.Form == FormLGTINURN {
		l := rule.CompanyPrefixLength
		return "urn:epc:class:lgtin:" + gtin[1:1+l] + "." + gtin[:1] + gtin[1+l:13] + "." + escapeEPC(p.Lot)
	}
	return digitalLink + "01/" + gtin + "/10/" + url.PathEscape(p.Lot)
}

// escapeEPC percent-encodes what the EPC URI syntax does not allow in a
// serial or lot (TDS 2.0, "GS1_AI_encodable_string").
func escapeEPC(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			strings.IndexByte("-_.!'()*+,:;=", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Sensor is a logger's device URI: its ID when that is already a URN (a
// logger named by its GIAI, urn:epc:id:giai:...), else the fallback URN.
func Sensor(id string) string {
	if strings.HasPrefix(id, "urn:") {
		return id
	}
	return sensorURN + id
}

// SensorOf maps a device URI back to a sensor ID the contract accepts.
func SensorOf(uri string) (string, error) {
	id := uri
	if v, ok := strings.CutPrefix(uri, sensorURN); ok {
		id = v
	}
	if err := shipment.ValidateSensorIDs([]string{id}); err != nil {
		return "", fmt.Errorf("deviceID %q does not name a sensor shiptrace can record (1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-')", uri)
	}
	return id, nil
}

// ShipmentURI names a shipment in bizTransactionList (type desadv).
func ShipmentURI(id string) string { return shipmentURN + url.PathEscape(id) }

// shipmentOf reads a shipment ID back from its URI.
func shipmentOf(uri string) (string, bool) {
	v, ok := strings.CutPrefix(uri, shipmentURN)
	if !ok {
		return "", false
	}
	id, err := url.PathUnescape(v)
	return id, err == nil
}
