// Package tracking_test checks the public tracking page on the running
// system (`shipnet up`): the link comes from a WhatsApp message the stand-in
// received, the page is served by the gateway process and read from the
// real ledger, and erasing the buyer contact through the REST API closes it.
package tracking_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/testnet"
	"github.com/shiptrace/shiptrace/tracklink"
)

func system(t testing.TB) (*testnet.Network, *walk.System, *walk.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the running local system")
	}
	net := testnet.Require(t)
	sys := net.System(t)
	c, err := sys.ReadyClient(context.Background(), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return net, sys, c
}

func get(t *testing.T, c *walk.Client, url string) (int, []byte) {
	t.Helper()
	res, err := c.HTTP.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// TestTrackLinkFromWhatsAppShowsTheLedger follows the Track button of the
// buyer's message and checks the page against what the writes' commits
// reported: every step's transaction with the block it committed in.
func TestTrackLinkFromWhatsAppShowsTheLedger(t *testing.T) {
	_, sys, c := system(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := sys.TrackedBreach(ctx, c, "TRK")
	if err != nil {
		t.Fatal(err)
	}

	claims, err := tracklink.Inspect(s.Token)
	if err != nil || claims.ShipmentID != s.ID || claims.Audience != tracklink.AudienceBuyer || claims.Lang != "de" {
		t.Fatalf("token claims %+v, %v", claims, err)
	}
	status, body := get(t, c, sys.GatewayURL+"/track/"+s.Token)
	if status != http.StatusOK {
		t.Fatalf("page: %d %s", status, body)
	}
	html := string(body)
	if dump := os.Getenv("SHIPTRACE_DUMP_PAGE"); dump != "" {
		_ = os.WriteFile(dump, body, 0o600)
	}
	for _, want := range []string{`<html lang="de">`, s.ID, "Green coffee", "Übergeben", "Kühlkette verletzt",
		`<svg class="chart"`, `class="breach"`, `<table class="readings">`, walk.Certificate(s.ID)["sha256"], `id="check-file"`} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for name, rc := range s.Steps {
		if name == "document" || name == "ship" || name == "handover" || name == "create" || rc.Result.UpdatedRecord {
			// Transaction, block, endorsers: the key-level policy needs the
			// exporter's and the buyer's peers, so at least two names.
			proof := regexp.MustCompile(`<code>` + rc.Transaction.ID + `</code></dd>\s*<dt>[^<]+</dt><dd>(\d+)</dd>\s*<dt>[^<]+</dt><dd>([^<]+)</dd>`).FindStringSubmatch(html)
			if proof == nil || proof[1] != fmt.Sprint(rc.Transaction.BlockNumber) || !strings.Contains(proof[2], ", ") {
				t.Errorf("%s: the page does not show transaction %s in block %d endorsed by two organisations (found %v)", name, rc.Transaction.ID, rc.Transaction.BlockNumber, proof)
			}
		}
	}
	for _, secret := range []string{s.Contact.Phone, walk.Digits(s.Contact.Phone), s.Contact.Name, "PO-" + s.ID} {
		if strings.Contains(html, secret) {
			t.Errorf("the page contains %q", secret)
		}
	}
}

// TestRefusedLinksAreIndistinguishableOnTheRunningSystem compares, byte for
// byte, the gateway's answers to an erased contact's link, an expired link,
// a tampered one and one for a shipment that does not exist.
func TestRefusedLinksAreIndistinguishableOnTheRunningSystem(t *testing.T) {
	net, sys, c := system(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := sys.TrackedBreach(ctx, c, "TRK")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := net.Local(t).TrackingSecret()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tracklink.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(id string, exp time.Time) string {
		tok, err := signer.Issue(tracklink.Claims{ShipmentID: id, Audience: tracklink.AudienceBuyer, Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	page := func(token string) (int, []byte) { return get(t, c, sys.GatewayURL+"/track/"+token) }
	if st, _ := page(mint(s.ID, time.Now().Add(time.Hour))); st != http.StatusOK {
		t.Fatalf("a link minted with the local secret: %d", st)
	}
	tampered := []byte(s.Token)
	tampered[len(tampered)-3] ^= 'A' ^ 'C'

	refusals := map[string]string{
		"expired":          mint(s.ID, time.Now().Add(-time.Minute)),
		"tampered":         string(tampered),
		"unknown shipment": mint(walk.NewID("TRK-NONE"), time.Now().Add(time.Hour)),
	}
	if _, err := c.Expect(ctx, http.StatusOK, "exporter", http.MethodDelete, "/v1/shipments/"+s.ID+"/buyer-contact", nil, nil); err != nil {
		t.Fatalf("erase the buyer contact: %v", err)
	}
	refusals["contact erased"] = s.Token
	var first []byte
	for name, tok := range refusals {
		st, body := page(tok)
		if st != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", name, st)
		}
		if first == nil {
			first = body
		} else if !bytes.Equal(first, body) {
			t.Errorf("%s: the answer differs from another refusal", name)
		}
	}
	if bytes.Contains(first, []byte(s.ID)) {
		t.Error("the not-found page names the shipment")
	}
}
