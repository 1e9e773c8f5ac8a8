package notifier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier/conversation"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestClaimEndToEndOnTheNetwork drives the system `shipnet up` runs: a
// delivered shipment's buyer taps "Report a problem" on the delivered
// message, picks a category, describes the problem and sends a photo that
// the notifier fetches from the stand-in's media endpoint. The exporter's
// notifier records the claim with OpenClaim as its own identity; the
// chaincode event shipment.claim_opened carries it, every member lists it
// through the gateway, the notifier's admin API shows the originals
// matching the ledger's digests, and a scan of every block of the channel
// finds none of the buyer's words, number or name.
func TestClaimEndToEndOnTheNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local Fabric network")
	}
	net := testnet.Require(t)
	sys := net.System(t)
	ctx := t.Context()
	nsn := fmt.Sprintf("1578%07d", randN(t, 10_000_000))
	phone := "+49" + nsn
	name := "Hildegunde" + strings.ToUpper(fmt.Sprintf("%x", randN(t, 1<<30)))
	words := fmt.Sprintf("Die Kiste kam nass an, Deckel gebrochen %x", randN(t, 1<<40))
	photo := []byte(fmt.Sprintf("\xff\xd8\xff\xe0JFIF photo of the crushed lid %x", randN(t, 1<<40)))
	id := testnet.UniqueID("CLAIM")

	// Events from here on: the claim's event must be among them.
	network := net.Gateway(t, "ExporterMSP").GetNetwork(net.Profile.Channel)
	var start uint64
	for _, p := range net.Status(t) {
		if p.Kind == "peer" && p.Height > start {
			start = p.Height
		}
	}
	evCtx, evCancel := context.WithCancel(ctx)
	defer evCancel()
	events, err := network.ChaincodeEvents(evCtx, net.Profile.Chaincode, client.WithStartBlock(start-1))
	if err != nil {
		t.Fatal(err)
	}

	createShipment(t, sys, id, shipment.Contact{Phone: phone, Name: name, Language: "de", Consent: true})
	c := sys.Client()
	for _, step := range []struct{ member, path, body string }{
		{"exporter", "/handover", `{"toMSP":"CarrierMSP"}`},
		{"carrier", "/handover", `{"toMSP":"RetailerMSP"}`},
		{"retailer", "/deliver", ""},
	} {
		var body any
		if step.body != "" {
			body = json.RawMessage(step.body)
		}
		r, err := c.Do(ctx, step.member, "POST", "/v1/shipments/"+id+step.path, body, nil)
		if err != nil || r.Status/100 != 2 {
			t.Fatalf("%s %s: %v %+v", step.member, step.path, err, r)
		}
	}
	delivered := waitTemplate(t, sys, walk.Digits(phone), "shipment_delivered")
	var payload string
	for _, comp := range delivered.Components {
		for _, p := range comp.Parameters {
			var v struct{ Type, Payload string }
			_ = json.Unmarshal(p, &v)
			if strings.HasPrefix(v.Payload, "CLAIM:") {
				payload = v.Payload
			}
		}
	}
	if payload != "CLAIM:"+id {
		t.Fatalf("the delivered message has no Report a problem button for %s: %+v", id, delivered.Components)
	}

	buyer := &chat{t: t, sys: sys, phone: phone, digits: walk.Digits(phone)}
	start1 := time.Now()
	ask := buyer.say(ctx, wastandin.Inbound{ButtonPayload: payload, ButtonText: "Problem melden"})
	t.Logf("quick reply → category question: %s", time.Since(start1))
	if ask.Type != "interactive" || !strings.Contains(string(ask.Body), "CAT:damaged") || !strings.Contains(ask.Text, "PO-"+id) {
		t.Fatalf("category question = %s", ask.Body)
	}
	buyer.say(ctx, wastandin.Inbound{ReplyID: "CAT:damaged", ReplyTitle: "1 Beschädigt", List: true})
	if r := buyer.say(ctx, wastandin.Inbound{Text: words}); !strings.Contains(string(r.Body), "NOPHOTO") {
		t.Fatalf("photo question = %s", r.Body)
	}
	media := buyer.upload(ctx, "image/jpeg", photo)
	received := buyer.say(ctx, wastandin.Inbound{MediaID: media})
	claimID := ""
	for f := range strings.FieldsSeq(received.Text) {
		if strings.HasPrefix(f, "CLM-") {
			claimID = strings.TrimRight(f, ".,")
		}
	}
	if claimID == "" {
		t.Fatalf("no claim reference in %q", received.Text)
	}
	confirmed := buyer.next(ctx, received.Seq)
	t.Logf("photo → confirmation: %s", confirmed.ReceivedAt.Sub(received.ReceivedAt))
	if !strings.Contains(confirmed.Text, claimID) {
		t.Fatalf("confirmation = %q", confirmed.Text)
	}

	// The ledger: every member lists the claim through its gateway.
	for _, member := range []string{"exporter", "carrier", "retailer"} {
		r, err := c.Do(ctx, member, "GET", "/v1/shipments/"+id+"/claims", nil, nil)
		if err != nil || r.Status != 200 {
			t.Fatalf("%s lists claims: %v %+v", member, err, r)
		}
		var page struct{ Items []shipment.Claim }
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Fatalf("%s sees %d claims: %s", member, len(page.Items), r.Body)
		}
		cl := page.Items[0]
		if cl.ID != claimID || cl.Category != shipment.ClaimDamaged || cl.WordsSHA256 != sha([]byte(words)) ||
			len(cl.PhotoSHA256s) != 1 || cl.PhotoSHA256s[0] != sha(photo) || cl.OpenedBy != "ExporterMSP" || cl.TxID == "" {
			t.Fatalf("%s sees %+v", member, cl)
		}
	}

	// The event.
	var ev shipment.Event
	deadline := time.After(30 * time.Second)
	for ev.Claim == nil {
		select {
		case e := <-events:
			if e.EventName == string(shipment.EventClaimOpened) {
				var got shipment.Event
				if json.Unmarshal(e.Payload, &got) == nil && got.ShipmentID == id {
					ev = got
				}
			}
		case <-deadline:
			t.Fatal("no shipment.claim_opened event for the shipment")
		}
	}
	if ev.Claim.ID != claimID || ev.Claim.WordsSHA256 != sha([]byte(words)) || ev.By != "ExporterMSP" {
		t.Fatalf("event = %+v claim %+v", ev, ev.Claim)
	}

	// The member's proof: the originals next to the ledger's digests.
	var proof conversation.ClaimProof
	if err := sys.NotifierJSON(ctx, "/v1/claims/"+claimID, &proof); err != nil {
		t.Fatal(err)
	}
	if !proof.Matches || proof.Words != words || proof.Ledger == nil || proof.Ledger.TxID != ev.Claim.TxID {
		t.Fatalf("proof = %+v", proof)
	}

	// No personal data in any block.
	needles := []string{phone, walk.Digits(phone), nsn, name, words, string(photo[4:])}
	found, n := net.ScanBlocks(t, needles)
	t.Logf("scanned %d blocks of the channel", n)
	if len(found) > 0 {
		t.Fatalf("blocks hold the buyer's personal data: %q", found)
	}
	// The scan can see what it looks for: the claim's ID is in the blocks.
	if found, _ := net.ScanBlocks(t, []string{claimID, sha([]byte(words))}); len(found) != 2 {
		t.Fatalf("the scan does not find the claim itself (%q): it would prove nothing", found)
	}
}
