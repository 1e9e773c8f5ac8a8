package notifier_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/anchor"
	"github.com/shiptrace/shiptrace/notifier/proof"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestProofOfNotificationVerifiesAgainstTheLedger drives the running system
// (gateway, notifier, stand-in, Fabric) as the notifier README's "Proof of
// notification" steps do: a shipment ships, the buyer's WhatsApp message
// goes to the stand-in, which reports it sent, delivered and read by signed
// status webhooks; the notifier anchors the status records with
// AnchorNotifications; the proof fetched from the admin API is checked by
// the shiptrace-verify command as another member (RetailerMSP's own
// identity and peer). A record whose read time or status is changed fails.
// The blocks of the anchoring transactions hold none of the buyer's
// number, name or WhatsApp message ID.
func TestProofOfNotificationVerifiesAgainstTheLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local Fabric network")
	}
	net := testnet.Require(t)
	local := net.Local(t)
	sys := net.System(t)
	ctx := t.Context()
	nsn := fmt.Sprintf("1579%07d", randN(t, 10_000_000))
	phone := "+49" + nsn
	name := "Hildegunde" + strings.ToUpper(fmt.Sprintf("%x", randN(t, 1<<30)))
	id := testnet.UniqueID("PROOF")
	create := coffeeShipment(id, shipment.Contact{Phone: phone, Name: name, Language: "de", Consent: true})
	c := sys.Client()
	mustWrite(t, c, "POST", "/v1/shipments", create)
	mustWrite(t, c, "POST", "/v1/shipments/"+id+"/ship", nil)

	var noteID string
	err := walk.Eventually(ctx, 60*time.Second, 100*time.Millisecond, func() error {
		ns, err := sys.Notifications(ctx, id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.Recipient == notifier.RoleBuyer && n.EventType == notifier.EventShipped && n.Status == string(notifier.StatusRead) {
				noteID = n.ID
				return nil
			}
		}
		return fmt.Errorf("the buyer's shipped message is not read yet: %+v", ns)
	})
	if err != nil {
		t.Fatal(err)
	}
	var wamid string
	msgs, err := walk.Messages(ctx, sys.StandinURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.CallbackData == noteID && m.Accepted {
			wamid = m.WAMID
		}
	}
	if wamid == "" {
		t.Fatalf("the stand-in holds no accepted message for %s", noteID)
	}

	var p proof.Proof
	var raw []byte
	err = walk.Eventually(ctx, 60*time.Second, 500*time.Millisecond, func() error {
		p = proof.Proof{}
		if err := sys.NotifierJSON(ctx, "/v1/notifications/"+noteID+"/proof", &p); err != nil {
			return err
		}
		if p.State != proof.StateAnchored || len(p.Records) < 4 {
			return fmt.Errorf("proof %s with %d records", p.State, len(p.Records))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.MarshalIndent(p, "", "  ")
	var statuses []string
	for _, rp := range p.Records {
		r, err := proof.ParseRecord([]byte(rp.Record))
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, r.Status)
	}
	if got := strings.Join(statuses, ","); got != "accepted,sent,delivered,read" {
		t.Fatalf("records %s, want accepted,sent,delivered,read", got)
	}
	for _, s := range []string{phone, nsn, name, wamid} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the proof holds %q", s)
		}
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "shiptrace-verify")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./notifier/cmd/shiptrace-verify")
	build.Dir = net.Repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the verifier: %v\n%s", err, out)
	}
	verify := func(name string, body []byte) (int, string) {
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, body, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, bin, "--profile", local.Layout.ConnectionProfile(), "--msp", "RetailerMSP", f)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := verify("proof", raw)
	if code != 0 || !strings.Contains(out, "VALID: 4 status record(s)") {
		t.Fatalf("verifier on the untouched proof: exit %d\n%s", code, out)
	}
	t.Logf("verifier:\n%s", out)

	readAt := mustRecord(t, p.Records[3].Record).At.UTC().Format(time.RFC3339Nano)
	earlier := mustRecord(t, p.Records[3].Record).At.Add(-5 * time.Minute).UTC().Format(time.RFC3339Nano)
	for name, tamper := range map[string]func(*proof.Proof){
		"read-time": func(q *proof.Proof) { q.Records[3].Record = strings.Replace(q.Records[3].Record, readAt, earlier, 1) },
		"status": func(q *proof.Proof) {
			q.Records[2].Record = strings.Replace(q.Records[2].Record, `"delivered"`, `"read"`, 1)
		},
	} {
		q := p
		q.Records = append([]proof.RecordProof(nil), p.Records...)
		tamper(&q)
		if q.Records[2].Record == p.Records[2].Record && q.Records[3].Record == p.Records[3].Record {
			t.Fatalf("%s: tampering changed nothing", name)
		}
		b, _ := json.Marshal(q)
		code, out := verify(name, b)
		if code != 1 || !strings.Contains(out, "INVALID") {
			t.Fatalf("verifier on the proof with the %s changed: exit %d\n%s", name, code, out)
		}
		t.Logf("%s changed: exit %d: %s", name, code, strings.TrimSpace(out))
	}

	// The anchoring transactions' blocks (write sets, event, arguments)
	// hold none of the buyer's data.
	qscc := net.Gateway(t, "ExporterMSP").GetNetwork(net.Profile.Channel).GetContract("qscc")
	seen := map[string]bool{}
	for _, rp := range p.Records {
		if seen[rp.TxID] {
			continue
		}
		seen[rp.TxID] = true
		block, err := qscc.EvaluateTransaction("GetBlockByTxID", net.Profile.Channel, rp.TxID)
		if err != nil {
			t.Fatalf("block of %s: %v", rp.TxID, err)
		}
		if !bytes.Contains(block, []byte(rp.Root)) {
			t.Fatalf("the block of %s does not hold the root %s: the scan would prove nothing", rp.TxID, rp.Root)
		}
		for _, s := range []string{phone, "49" + nsn, nsn, name, wamid} {
			if bytes.Contains(block, []byte(s)) {
				t.Fatalf("block %d (anchor %s) holds %q", rp.Block, rp.TxID, s)
			}
		}
	}
	t.Logf("%d anchoring blocks scanned: no number, name or wamid", len(seen))
}

func mustRecord(t *testing.T, b string) proof.StatusRecord {
	t.Helper()
	r, err := proof.ParseRecord([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAnchoringARecordedBatchAgainWritesNothing is the ledger half of the
// crash between submit and mark (notifier/anchor's unit test plays the
// store half): the notifier's identity submits the same batch twice, as a
// restarted notifier does; the second commit returns the first record, so
// the adapter reports the first transaction and its block (looked up with
// qscc), and any member reads that anchor back. Another organisation
// cannot take the batch ID over.
func TestAnchoringARecordedBatchAgainWritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local Fabric network")
	}
	net := testnet.Require(t)
	ctx := t.Context()
	open := func(name, msp, user string) anchor.Fabric {
		m, err := net.Profile.Member(name, msp, user)
		if err != nil {
			t.Fatal(err)
		}
		c, err := fabric.Open([]fabric.Member{m}, fabric.Options{Channel: net.Profile.Channel, Chaincode: net.Profile.Chaincode})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return anchor.Fabric{Client: c, Identity: name}
	}
	notifierID := open("notifier", "ExporterMSP", "Notifier")
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	req := shipment.NewNotificationAnchor{BatchID: "nb-" + testnet.UniqueID("retry"), Root: strings.Repeat("5a", 32), LeafCount: 3, FirstAt: at, LastAt: at}
	first, block1, err := notifierID.Anchor(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, block2, err := notifierID.Anchor(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || block2 != block1 || first.MSPID != "ExporterMSP" {
		t.Fatalf("retry answered %+v in block %d, want the first record %+v in block %d", again, block2, first, block1)
	}
	retailer := open("retailer", "RetailerMSP", "User1")
	read, err := retailer.NotificationAnchor(ctx, req.BatchID)
	if err != nil || read != first {
		t.Fatalf("RetailerMSP reads %+v, %v; want %+v", read, err, first)
	}
	tx, err := retailer.Transaction(ctx, first.TxID)
	if err != nil || !tx.Found || !tx.Valid || tx.Block != block1 || tx.Creator != "ExporterMSP" {
		t.Fatalf("qscc on RetailerMSP's peer: %+v %v, want valid in block %d by ExporterMSP", tx, err, block1)
	}
	_, _, err = open("carrier", "CarrierMSP", "User1").Anchor(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "CONFLICT") {
		t.Fatalf("another organisation anchoring the same batch ID: %v, want CONFLICT", err)
	}
}
