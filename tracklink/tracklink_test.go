package tracklink_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/tracklink"
)

var secret = []byte(strings.Repeat("k", tracklink.MinSecretBytes))

func signer(t *testing.T, key []byte) *tracklink.Signer {
	t.Helper()
	s, err := tracklink.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssuedTokenVerifiesUntilItExpires(t *testing.T) {
	s := signer(t, secret)
	exp := time.Date(2027, 3, 3, 12, 0, 0, 0, time.UTC)
	tok, err := s.Issue(tracklink.Claims{ShipmentID: "SHP-2026-0001", Audience: "buyer", Lang: "pt_BR", Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(tok, exp.Add(-time.Second), "ops", "buyer")
	if err != nil || c.ShipmentID != "SHP-2026-0001" || c.Audience != "buyer" || c.Lang != "pt_BR" || !c.Expires.Equal(exp) {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, err := s.Verify(tok, exp, "buyer"); !errors.Is(err, tracklink.ErrInvalid) {
		t.Fatalf("at its expiry: %v, want ErrInvalid", err)
	}
}

func TestEveryAlteredTokenIsRefused(t *testing.T) {
	s := signer(t, secret)
	exp := time.Date(2027, 3, 3, 12, 0, 0, 0, time.UTC)
	now := exp.Add(-time.Hour)
	tok, _ := s.Issue(tracklink.Claims{ShipmentID: "SHP-1", Audience: "buyer", Lang: "de", Expires: exp})
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flipped := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other := signer(t, []byte(strings.Repeat("x", tracklink.MinSecretBytes)))
	foreign, _ := other.Issue(tracklink.Claims{ShipmentID: "SHP-1", Audience: "buyer", Expires: exp})
	cases := map[string]string{
		"empty": "", "not base64": "!!!", "truncated": tok[:len(tok)-4],
		"expiry changed": flipped(8), "audience changed": flipped(11), "language changed": flipped(17), "shipment changed": flipped(len(raw) - 33),
		"tag changed": flipped(len(raw) - 1), "version changed": flipped(0), "another secret": foreign,
	}
	for name, bad := range cases {
		if _, err := s.Verify(bad, now, "buyer"); !errors.Is(err, tracklink.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Verify(tok, now, "ops"); !errors.Is(err, tracklink.ErrInvalid) {
		t.Errorf("another audience: %v, want ErrInvalid", err)
	}
}

func TestShortSecretAndEmptyClaimsAreRefused(t *testing.T) {
	if _, err := tracklink.New(secret[:31]); err == nil {
		t.Error("a 31-byte secret was accepted")
	}
	s := signer(t, secret)
	if _, err := s.Issue(tracklink.Claims{Audience: "buyer"}); err == nil {
		t.Error("a token without shipment ID was issued")
	}
}

func TestInspectNamesTheShipmentButTrustsNothing(t *testing.T) {
	s := signer(t, secret)
	exp := time.Date(2027, 3, 3, 12, 0, 0, 0, time.UTC)
	tok, _ := s.Issue(tracklink.Claims{ShipmentID: "SHP-9", Audience: "ops", Expires: exp})
	again, _ := s.Issue(tracklink.Claims{ShipmentID: "SHP-9", Audience: "ops", Expires: exp})
	if again != tok {
		t.Error("the same claims gave two tokens")
	}
	c, err := tracklink.Inspect(tok)
	if err != nil || c.ShipmentID != "SHP-9" || c.Audience != "ops" || c.Lang != "" {
		t.Fatalf("Inspect = %+v, %v", c, err)
	}
	if _, err := tracklink.Inspect("abc"); err == nil {
		t.Error("Inspect accepted a non-token")
	}
}

func TestTemplateAndVariantTravelInTheTokenAndOldTokensStillVerify(t *testing.T) {
	s, _ := tracklink.New([]byte("0123456789abcdef0123456789abcdef"))
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	old, _ := s.Issue(tracklink.Claims{ShipmentID: "SHP-1", Audience: "buyer", Lang: "es", Expires: exp})
	kpi, _ := s.Issue(tracklink.Claims{ShipmentID: "SHP-1", Audience: "buyer", Lang: "es", Expires: exp, Template: "shipment_shipped_v2", Variant: "B"})
	if c, err := s.Verify(old, time.Now(), "buyer"); err != nil || c.Template != "" || c.ShipmentID != "SHP-1" || c.Lang != "es" {
		t.Errorf("a link without template: %+v, %v", c, err)
	}
	c, err := s.Verify(kpi, time.Now(), "buyer")
	if err != nil || c.Template != "shipment_shipped_v2" || c.Variant != "B" || c.ShipmentID != "SHP-1" || c.Lang != "es" || !c.Expires.Equal(exp) {
		t.Errorf("a link with template and variant: %+v, %v", c, err)
	}
	if old == kpi {
		t.Error("template and variant are not in the token")
	}
}
