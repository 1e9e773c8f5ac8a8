package shipment

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// PlotsSummary is what the public record says about a shipment's production
// plots under the EU Deforestation Regulation: the SHA-256 of their
// canonical GeoJSON (so any member can check that the plots the exporter
// shows later are those it attached), how many, their total area, and the
// countries, commodities and HS codes. Geometry and producer names never
// appear here: they live in the exporter's and the buyer's private stores.
type PlotsSummary struct {
	SHA256      string   `json:"sha256"`
	Count       int      `json:"count"`
	AreaHa      float64  `json:"areaHa"`
	QuantityKg  float64  `json:"quantityKg"`
	Countries   []string `json:"countries"`
	Commodities []string `json:"commodities"`
	HSCodes     []string `json:"hsCodes"`
	// AttachedAt and AttachedBy say when and by which organisation the
	// plots were attached; AttachedTx is the transaction.
	AttachedAt time.Time `json:"attachedAt,omitzero"`
	AttachedBy string    `json:"attachedBy,omitempty"`
	AttachedTx string    `json:"attachedTx,omitempty"`
	// Erased is set when the plots were purged from the private stores
	// (erasure of producers' personal data); the figures stay.
	Erased bool `json:"erased,omitempty"`
}

// DueDiligence is the buyer's due-diligence statement as the EU information
// system (TRACES) registered it: its reference number and verification
// number. Downstream operators and traders quote both.
type DueDiligence struct {
	Reference    string    `json:"referenceNumber"`
	Verification string    `json:"verificationNumber"`
	RecordedAt   time.Time `json:"recordedAt,omitzero"`
	RecordedBy   string    `json:"recordedBy,omitempty"`
}

// ddsNumber is a TRACES number: upper-case letters and digits (the system
// issues e.g. 25FRXVV3VOS991 and a verification number of 8 characters),
// with the dashes some copies add.
var ddsNumber = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{5,39}$`)

// DecodeDueDiligence parses and validates the buyer's statement numbers.
func DecodeDueDiligence(b []byte) (DueDiligence, error) {
	var d DueDiligence
	if err := decodeStrictJSON(b, &d); err != nil {
		return d, Errorf(Invalid, "due diligence: %v", err)
	}
	if !ddsNumber.MatchString(d.Reference) {
		return d, Errorf(Invalid, "due diligence: referenceNumber %q: 6 to 40 upper-case letters, digits or dashes, as TRACES issued it", d.Reference)
	}
	if !ddsNumber.MatchString(d.Verification) {
		return d, Errorf(Invalid, "due diligence: verificationNumber %q: 6 to 40 upper-case letters, digits or dashes, as TRACES issued it", d.Verification)
	}
	if !d.RecordedAt.IsZero() || d.RecordedBy != "" {
		return d, Errorf(Invalid, "due diligence: recordedAt and recordedBy are set by the contract")
	}
	return d, nil
}

func decodeStrictJSON(b []byte, v any) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	for k := range probe {
		switch k {
		case "referenceNumber", "verificationNumber", "recordedAt", "recordedBy":
		default:
			return fmt.Errorf("unknown field %q", k)
		}
	}
	return json.Unmarshal(b, v)
}

// RecordDueDiligence records the statement on s (the buyer's act; see
// Authorize). A later statement (an amendment) replaces it; the key's
// history keeps the earlier ones.
func RecordDueDiligence(s *Shipment, d DueDiligence, by string, at time.Time) error {
	if s.Status == StatusCancelled {
		return Errorf(Conflict, "shipment %s is CANCELLED: nothing to place on the market", s.ID)
	}
	d.RecordedAt, d.RecordedBy = at.UTC(), by
	s.DueDiligence = &d
	s.UpdatedAt, s.UpdatedBy = at.UTC(), by
	return nil
}
