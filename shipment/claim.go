package shipment

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ClaimCategory is what a buyer's claim is about.
type ClaimCategory string

// The claim categories the buyer picks from.
const (
	ClaimDamaged     ClaimCategory = "damaged"
	ClaimLate        ClaimCategory = "late"
	ClaimTemperature ClaimCategory = "temperature"
	ClaimMissing     ClaimCategory = "missing"
	ClaimOther       ClaimCategory = "other"
)

// ClaimCategories lists every category, in the order buyers are offered them.
var ClaimCategories = []ClaimCategory{ClaimDamaged, ClaimLate, ClaimTemperature, ClaimMissing, ClaimOther}

// MaxClaimPhotos bounds the photos of one claim; MaxClaims the claims of one
// shipment, so reading a shipment's claims stays one small range read.
const (
	MaxClaimPhotos = 10
	MaxClaims      = 50
)

// claimIDPattern is the claim reference the buyer is told: the exporter's
// notifier chooses it (deterministically, so a retry after a crash submits
// the same ID) and the contract only checks its form.
var claimIDPattern = regexp.MustCompile(`^CLM-[A-Z0-9]{6,32}$`)

// NewClaim is what the exporter submits to open a claim. It holds digests
// only: the buyer's words and photos are personal data and stay in the
// exporter's notifier store, which can later show them next to these
// digests. No text, phone number or name is accepted.
type NewClaim struct {
	ID           string        `json:"id"`
	Category     ClaimCategory `json:"category"`
	WordsSHA256  string        `json:"wordsSha256"`
	PhotoSHA256s []string      `json:"photoSha256s,omitempty"`
}

// Claim is a buyer's complaint about a shipment as the ledger holds it.
// OpenedAt is the transaction time; OpenedBy the exporter's MSP ID that
// recorded it; TxID the transaction that did.
type Claim struct {
	ID           string        `json:"id"`
	ShipmentID   string        `json:"shipmentId"`
	Category     ClaimCategory `json:"category"`
	WordsSHA256  string        `json:"wordsSha256"`
	PhotoSHA256s []string      `json:"photoSha256s,omitempty"`
	OpenedAt     time.Time     `json:"openedAt"`
	OpenedBy     string        `json:"openedBy"`
	TxID         string        `json:"txId"`
}

// Validate checks a new claim: a well-formed ID, a known category and
// lower-case hex SHA-256 digests, each photo once.
func (n NewClaim) Validate() error {
	var p problems
	if !claimIDPattern.MatchString(n.ID) {
		p.addf("claim.id", "must be CLM- followed by 6 to 32 characters of A-Z or 0-9")
	}
	if !slices.Contains(ClaimCategories, n.Category) {
		names := make([]string, len(ClaimCategories))
		for i, c := range ClaimCategories {
			names[i] = string(c)
		}
		p.addf("claim.category", "must be one of %s", strings.Join(names, ", "))
	}
	if !sha256Pattern.MatchString(n.WordsSHA256) {
		p.addf("claim.wordsSha256", "must be 64 lower-case hexadecimal characters")
	}
	if len(n.PhotoSHA256s) > MaxClaimPhotos {
		p.addf("claim.photoSha256s", "must hold at most %d digests", MaxClaimPhotos)
	}
	for i, h := range n.PhotoSHA256s {
		switch {
		case !sha256Pattern.MatchString(h):
			p.addf("claim.photoSha256s["+strconv.Itoa(i)+"]", "must be 64 lower-case hexadecimal characters")
		case slices.Contains(n.PhotoSHA256s[:i], h):
			p.addf("claim.photoSha256s["+strconv.Itoa(i)+"]", "is listed twice")
		}
	}
	return p.err()
}

// DecodeNewClaim parses a new claim strictly and checks it.
func DecodeNewClaim(data []byte) (NewClaim, error) {
	var n NewClaim
	if err := decodeStrict("claim", data, &n); err != nil {
		return NewClaim{}, err
	}
	return n, n.Validate()
}

// OpenClaim records a claim on s by the caller at the transaction time at.
// Only the exporter's organisation records claims: it is the one that talks
// to the buyer. A claim is possible once the goods have left (shipped, in
// transit, delivered or rejected), never on a shipment that never moved.
// existing are the claims already on s: a retry of the same claim (same ID
// and content) returns it with dup true and must write nothing; the same ID
// with other content is a CONFLICT. The shipment record itself is not
// changed: claims live beside it.
func (s *Shipment) OpenClaim(c Caller, at time.Time, txID string, n NewClaim, existing []Claim) (cl Claim, dup bool, err error) {
	if err := Authorize(c, s, OpOpenClaim); err != nil {
		return Claim{}, false, err
	}
	if err := n.Validate(); err != nil {
		return Claim{}, false, err
	}
	for _, e := range existing {
		if e.ID != n.ID {
			continue
		}
		if e.Category == n.Category && e.WordsSHA256 == n.WordsSHA256 && slices.Equal(e.PhotoSHA256s, n.PhotoSHA256s) {
			return e, true, nil
		}
		return Claim{}, false, s.conflictf(OpOpenClaim, "claim %s exists with other content; a claim is never changed", n.ID)
	}
	if !s.StatusAllows(OpOpenClaim) {
		return Claim{}, false, s.conflictf(OpOpenClaim, "status is %s; claims open once the goods have left", s.Status)
	}
	if len(existing) >= MaxClaims {
		return Claim{}, false, s.conflictf(OpOpenClaim, "the shipment has %d claims, the most it may have", len(existing))
	}
	return Claim{
		ID: n.ID, ShipmentID: s.ID, Category: n.Category, WordsSHA256: n.WordsSHA256,
		PhotoSHA256s: slices.Clone(n.PhotoSHA256s), OpenedAt: at.UTC(), OpenedBy: c.MSPID, TxID: txID,
	}, false, nil
}
