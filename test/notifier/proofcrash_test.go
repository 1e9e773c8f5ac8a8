package notifier_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/anchor"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/proof"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestNotifierKilledBetweenAnchorCommitAndMark SIGKILLs the running
// notifier the moment the exporter's peer delivers a notifications.anchored
// event, i.e. right after an anchoring transaction committed, often before
// the notifier recorded the commit in its store; `shipnet start` brings it
// back. Afterwards every buyer message reached the stand-in exactly once
// and has exactly its four status records (accepted, sent, delivered,
// read: none lost, none doubled), each record is in exactly one batch, and
// every proof verifies against the ledger as RetailerMSP. One exception,
// checked as such: a kill that lands while a message's send is in flight
// loses WhatsApp's answer with the process, so nobody saw the "accepted"
// and its record cannot honestly exist; the restarted notifier marks the
// message recovered (outbox.ReasonRecovered), does not send it again, and
// records sent, delivered and read from the webhooks. How many kills
// landed between commit and mark (the batch was marked only after the
// restart, by a resubmission the contract answered with the first
// transaction) is read from the notifier's log and reported.
func TestNotifierKilledBetweenAnchorCommitAndMark(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local Fabric network")
	}
	net := testnet.Require(t)
	local := net.Local(t)
	sys := net.System(t)
	ctx := t.Context()
	network := net.Gateway(t, "ExporterMSP").GetNetwork(net.Profile.Channel)
	events, err := network.ChaincodeEvents(ctx, net.Profile.Chaincode)
	if err != nil {
		t.Fatal(err)
	}
	c := sys.Client()
	type kill struct {
		batch string
		at    time.Time
	}
	var kills []kill
	var ids []string
	const rounds = 4
	for round := range rounds {
		id := testnet.UniqueID(fmt.Sprintf("PRFK%d", round))
		ids = append(ids, id)
		create := coffeeShipment(id, shipment.Contact{Phone: fmt.Sprintf("+491579%07d", randN(t, 10_000_000)), Name: "Kunigunde", Language: "de", Consent: true})
		mustWrite(t, c, "POST", "/v1/shipments", create)
		mustWrite(t, c, "POST", "/v1/shipments/"+id+"/ship", nil)
		var batch string
		deadline := time.After(90 * time.Second)
		for batch == "" {
			select {
			case ev := <-events:
				if ev.EventName == string(shipment.EventNotificationsAnchored) {
					var a shipment.NotificationAnchor
					if err := json.Unmarshal(ev.Payload, &a); err == nil && a.MSPID == "ExporterMSP" {
						batch = a.BatchID
					}
				}
			case <-deadline:
				t.Fatalf("round %d: no notifications.anchored event within 90 s", round)
			}
		}
		net.Kill(t, "notifier")
		kills = append(kills, kill{batch, time.Now()})
		net.Shipnet(t, "start")
	}

	// Every buyer message read, its proof anchored with four records.
	verifier := func() anchor.Fabric {
		m, err := net.Profile.Member("verifier", "RetailerMSP", "User1")
		if err != nil {
			t.Fatal(err)
		}
		fc, err := fabric.Open([]fabric.Member{m}, fabric.Options{Channel: net.Profile.Channel, Chaincode: net.Profile.Chaincode})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fc.Close() })
		return anchor.Fabric{Client: fc, Identity: "verifier"}
	}()
	leaves := map[string]string{} // batch/leaf -> notification
	recovered := 0
	for _, id := range ids {
		var noteID, reason string
		if err := walk.Eventually(ctx, 2*time.Minute, 200*time.Millisecond, func() error {
			ns, err := sys.Notifications(ctx, id)
			if err != nil {
				return err
			}
			for _, n := range ns {
				if n.Recipient == notifier.RoleBuyer && n.Status == string(notifier.StatusRead) {
					noteID, reason = n.ID, n.Reason
					return nil
				}
			}
			return fmt.Errorf("%s: buyer message not read yet", id)
		}); err != nil {
			t.Fatal(err)
		}
		msgs, err := walk.Messages(ctx, sys.StandinURL)
		if err != nil {
			t.Fatal(err)
		}
		var p proof.Proof
		if err := walk.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
			p = proof.Proof{}
			if err := sys.NotifierJSON(ctx, "/v1/notifications/"+noteID+"/proof", &p); err != nil {
				return err
			}
			if p.State != proof.StateAnchored {
				return fmt.Errorf("%s: proof %s", noteID, p.State)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var statuses []string
		for _, rp := range p.Records {
			statuses = append(statuses, mustRecord(t, rp.Record).Status)
			k := fmt.Sprintf("%s/%d", rp.BatchID, rp.LeafIndex)
			if other, ok := leaves[k]; ok {
				t.Fatalf("leaf %s holds records of %s and %s", k, other, noteID)
			}
			leaves[k] = noteID
		}
		want := "accepted,sent,delivered,read"
		if reason == outbox.ReasonRecovered {
			want = "sent,delivered,read"
			recovered++
		}
		if got := strings.Join(statuses, ","); got != want {
			t.Errorf("%s: records %s, want %s once each (notification reason %q)", id, got, want, reason)
		}
		sent := 0
		for _, m := range msgs {
			if m.CallbackData == noteID && m.Accepted {
				sent++
			}
		}
		if sent != 1 {
			t.Errorf("%s: the stand-in accepted its buyer message %d times, want once", id, sent)
		}
		if _, err := proof.Verify(ctx, p, verifier); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}

	// Which kills fell between the commit and the mark: the batch's
	// "anchored" log line comes after the kill.
	marked := anchoredLogTimes(t, local.Layout.LogFile("notifier"))
	hits := 0
	for _, k := range kills {
		if at, ok := marked[k.batch]; ok && at.After(k.at) {
			hits++
		}
	}
	t.Logf("%d kills right after an anchor committed; %d of them before the notifier marked the batch (resumed after the restart with the same ID and root); %d during a buyer message's send (recovered from its webhooks, sent once); every proof verifies", len(kills), hits, recovered)
}

// anchoredLogTimes reads when the notifier logged each batch as anchored
// (marked in its store); the first line per batch counts.
func anchoredLogTimes(t *testing.T, path string) map[string]time.Time {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time  time.Time `json:"time"`
			Msg   string    `json:"msg"`
			Batch string    `json:"batch"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "notification batch anchored" {
			continue
		}
		if _, ok := out[l.Batch]; !ok {
			out[l.Batch] = l.Time
		}
	}
	return out
}
