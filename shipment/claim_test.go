package shipment

import (
	"strings"
	"testing"
)

func validClaim() NewClaim {
	return NewClaim{ID: "CLM-7K2Q9ZP4", Category: ClaimDamaged, WordsSHA256: strings.Repeat("ab", 32),
		PhotoSHA256s: []string{strings.Repeat("cd", 32)}}
}

// TestOpenClaimRecordsDigestsOnly: the exporter opens a claim once the goods
// have left; the claim carries the ID, category, digests and the
// transaction's time and organisation.
func TestOpenClaimRecordsDigestsOnly(t *testing.T) {
	s := inStatus(t, StatusDelivered)
	before := *s
	cl, dup, err := s.OpenClaim(exporter, t0, "tx1", validClaim(), nil)
	if err != nil || dup {
		t.Fatalf("OpenClaim = %+v, %v, %v", cl, dup, err)
	}
	if cl.ID != "CLM-7K2Q9ZP4" || cl.ShipmentID != s.ID || cl.Category != ClaimDamaged || cl.OpenedBy != exporterMSP ||
		!cl.OpenedAt.Equal(t0) || cl.TxID != "tx1" || len(cl.PhotoSHA256s) != 1 {
		t.Fatalf("claim = %+v", cl)
	}
	if s.Version != before.Version || !s.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatal("opening a claim changed the shipment record")
	}
}

// TestOpenClaimIsIdempotent: the same claim again (a retry after a crash)
// returns the recorded one as a duplicate; the same ID with other content
// is a conflict.
func TestOpenClaimIsIdempotent(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	first, _, err := s.OpenClaim(exporter, t0, "tx1", validClaim(), nil)
	if err != nil {
		t.Fatal(err)
	}
	again, dup, err := s.OpenClaim(exporter, t0.Add(1), "tx2", validClaim(), []Claim{first})
	if err != nil || !dup || again.TxID != "tx1" {
		t.Fatalf("retry = %+v, dup %v, %v; want the first claim as a duplicate", again, dup, err)
	}
	other := validClaim()
	other.Category = ClaimLate
	_, _, err = s.OpenClaim(exporter, t0, "tx3", other, []Claim{first})
	wantCode(t, err, Conflict)
}

func TestOpenClaimRefusals(t *testing.T) {
	carrier := Caller{MSPID: carrierMSP, Role: RoleGateway}
	for name, tc := range map[string]struct {
		status Status
		caller Caller
		claim  func(*NewClaim)
		want   Code
	}{
		"not yet shipped":          {StatusCreated, exporter, nil, Conflict},
		"cancelled":                {StatusCancelled, exporter, nil, Conflict},
		"by the carrier":           {StatusInTransit, carrier, nil, Forbidden},
		"auditor role":             {StatusInTransit, Caller{MSPID: exporterMSP, Role: RoleAuditor}, nil, Forbidden},
		"ID without prefix":        {StatusInTransit, exporter, func(n *NewClaim) { n.ID = "7K2Q9ZP4" }, Invalid},
		"ID with a phone in it":    {StatusInTransit, exporter, func(n *NewClaim) { n.ID = "CLM-+4915123456789" }, Invalid},
		"unknown category":         {StatusInTransit, exporter, func(n *NewClaim) { n.Category = "refund" }, Invalid},
		"words not a digest":       {StatusInTransit, exporter, func(n *NewClaim) { n.WordsSHA256 = "the box was wet" }, Invalid},
		"upper-case digest":        {StatusInTransit, exporter, func(n *NewClaim) { n.WordsSHA256 = strings.Repeat("AB", 32) }, Invalid},
		"photo listed twice":       {StatusInTransit, exporter, func(n *NewClaim) { n.PhotoSHA256s = append(n.PhotoSHA256s, n.PhotoSHA256s[0]) }, Invalid},
		"photo digest not hex":     {StatusInTransit, exporter, func(n *NewClaim) { n.PhotoSHA256s = []string{"x"} }, Invalid},
		"more photos than allowed": {StatusInTransit, exporter, func(n *NewClaim) { n.PhotoSHA256s = make([]string, MaxClaimPhotos+1) }, Invalid},
	} {
		t.Run(name, func(t *testing.T) {
			s := inStatus(t, tc.status)
			n := validClaim()
			if tc.claim != nil {
				tc.claim(&n)
			}
			_, _, err := s.OpenClaim(tc.caller, t0, "tx", n, nil)
			wantCode(t, err, tc.want)
		})
	}
}

func TestDecodeNewClaimRefusesText(t *testing.T) {
	_, err := DecodeNewClaim([]byte(`{"id":"CLM-7K2Q9ZP4","category":"damaged","wordsSha256":"` + strings.Repeat("ab", 32) + `","text":"the box was wet"}`))
	wantCode(t, err, Invalid)
	if strings.Contains(err.Error(), "wet") {
		t.Fatalf("refusal %q echoes the buyer's words", err)
	}
	if _, err := DecodeNewClaim([]byte(`{"id":"CLM-7K2Q9ZP4","category":"damaged","wordsSha256":"` + strings.Repeat("ab", 32) + `"}`)); err != nil {
		t.Fatal(err)
	}
}

func TestClaimLimitPerShipment(t *testing.T) {
	s := inStatus(t, StatusDelivered)
	existing := make([]Claim, MaxClaims)
	_, _, err := s.OpenClaim(exporter, t0, "tx", validClaim(), existing)
	wantCode(t, err, Conflict)
}
