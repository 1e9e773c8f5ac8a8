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
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
	"github.com/shiptrace/shiptrace/tracklink"
)

// story is a shipment walked to a breach, with the receipts of its writes.
type story struct {
	id      string
	contact shipment.Contact
	steps   map[string]*walk.Receipt // create, document, ship, handover, breach
	token   string                   // from the "shipped" message's Track button
}

func system(t *testing.T) (*testnet.Network, *walk.System, *walk.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the running local system")
	}
	net := testnet.Require(t)
	sys, err := walk.FromLocal(net.Local(t))
	if err != nil {
		t.Fatal(err)
	}
	c := sys.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := walk.Eventually(ctx, 2*time.Minute, time.Second, func() error {
		if !c.Ready(ctx) {
			return fmt.Errorf("gateway not ready")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return net, sys, c
}

// breachedStory creates a shipment with a buyer contact and a certificate,
// ships it, hands it to the carrier and uploads a breaching batch; then it
// waits for the buyer's "shipped" message and takes its Track token.
func breachedStory(t *testing.T, ctx context.Context, sys *walk.System, c *walk.Client) *story {
	t.Helper()
	s := &story{id: walk.NewID("TRK"), steps: map[string]*walk.Receipt{},
		contact: shipment.Contact{Phone: walk.NewPhone("+49152"), Name: "Greta " + walk.NewID("Privat"), Language: "de", Consent: true}}
	must := func(name string, rc *walk.Receipt, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s.steps[name] = rc
	}
	rc, err := c.Create(ctx, walk.NewShipment(s.id, &s.contact), walk.NewID("create"))
	must("create", rc, err)
	rc, err = c.Act(ctx, "exporter", s.id, "documents", walk.Certificate(s.id), "")
	must("document", rc, err)
	rc, err = c.Act(ctx, "exporter", s.id, "ship", nil, "")
	must("ship", rc, err)
	rc, err = c.Act(ctx, "exporter", s.id, "handover", map[string]string{"toMSP": "CarrierMSP"}, "")
	must("handover", rc, err)
	rc, err = c.Act(ctx, "carrier", s.id, "readings", map[string]any{"readings": walk.Breaching(time.Now())}, walk.NewID("batch"))
	must("breach", rc, err)
	if cc := rc.Result.ColdChain; cc == nil || cc.State != shipment.ColdChainBreached {
		t.Fatalf("the batch did not breach: %+v", rc.Result)
	}
	if err := walk.Eventually(ctx, 90*time.Second, 500*time.Millisecond, func() error {
		msgs, err := walk.Messages(ctx, sys.StandinURL)
		if err != nil {
			return err
		}
		for _, m := range walk.About(msgs, s.id) {
			if m.Template == "shipment_shipped" && len(m.TrackTokens) == 1 {
				s.token = m.TrackTokens[0]
				return nil
			}
		}
		return fmt.Errorf("no shipped message with a Track token for %s yet", s.id)
	}); err != nil {
		t.Fatal(err)
	}
	return s
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
	s := breachedStory(t, ctx, sys, c)

	claims, err := tracklink.Inspect(s.token)
	if err != nil || claims.ShipmentID != s.id || claims.Audience != tracklink.AudienceBuyer || claims.Lang != "de" {
		t.Fatalf("token claims %+v, %v", claims, err)
	}
	status, body := get(t, c, sys.GatewayURL+"/track/"+s.token)
	if status != http.StatusOK {
		t.Fatalf("page: %d %s", status, body)
	}
	html := string(body)
	if dump := os.Getenv("SHIPTRACE_DUMP_PAGE"); dump != "" {
		_ = os.WriteFile(dump, body, 0o600)
	}
	for _, want := range []string{`<html lang="de">`, s.id, "Green coffee", "Übergeben", "Kühlkette verletzt",
		`<svg class="chart"`, `class="breach"`, `<table class="readings">`, walk.Certificate(s.id)["sha256"], `id="check-file"`} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for name, rc := range s.steps {
		if name == "document" || name == "ship" || name == "handover" || name == "create" || rc.Result.UpdatedRecord {
			// Transaction, block, endorsers: the key-level policy needs the
			// exporter's and the buyer's peers, so at least two names.
			proof := regexp.MustCompile(`<code>` + rc.Transaction.ID + `</code></dd>\s*<dt>[^<]+</dt><dd>(\d+)</dd>\s*<dt>[^<]+</dt><dd>([^<]+)</dd>`).FindStringSubmatch(html)
			if proof == nil || proof[1] != fmt.Sprint(rc.Transaction.BlockNumber) || !strings.Contains(proof[2], ", ") {
				t.Errorf("%s: the page does not show transaction %s in block %d endorsed by two organisations (found %v)", name, rc.Transaction.ID, rc.Transaction.BlockNumber, proof)
			}
		}
	}
	for _, secret := range []string{s.contact.Phone, walk.Digits(s.contact.Phone), s.contact.Name, "PO-" + s.id} {
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
	s := breachedStory(t, ctx, sys, c)
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
	if st, _ := page(mint(s.id, time.Now().Add(time.Hour))); st != http.StatusOK {
		t.Fatalf("a link minted with the local secret: %d", st)
	}
	tampered := []byte(s.token)
	tampered[len(tampered)-3] ^= 'A' ^ 'C'

	refusals := map[string]string{
		"expired":          mint(s.id, time.Now().Add(-time.Minute)),
		"tampered":         string(tampered),
		"unknown shipment": mint(walk.NewID("TRK-NONE"), time.Now().Add(time.Hour)),
	}
	if _, err := c.Expect(ctx, http.StatusOK, "exporter", http.MethodDelete, "/v1/shipments/"+s.id+"/buyer-contact", nil, nil); err != nil {
		t.Fatalf("erase the buyer contact: %v", err)
	}
	refusals["contact erased"] = s.token
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
	if bytes.Contains(first, []byte(s.id)) {
		t.Error("the not-found page names the shipment")
	}
}
