// Package upgrade is the upgrade-under-load scenario: it upgrades the
// contract on a running network while a steady write load and a
// chaincode-event subscriber run, and checks that nobody notices: no
// request fails, events continue in order, the notifier sends each message
// once. Its own tests run it on the one-host network; test/hosts runs it on
// the network whose members each have a host of their own, where every
// member's writes go through that member's own gateway.
package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

const (
	writeInterval = 80 * time.Millisecond // 12.5 writes/s
	loadBefore    = 15 * time.Second      // steady load before the upgrade starts
	loadAfter     = 15 * time.Second      // and after it ended
	notified      = 8                     // shipments shipped during the upgrade, each with a buyer contact
)

// result is one write of the load: a single attempt, never retried by the
// client, so any failure is a failed request.
type result struct {
	kind       string
	id         string
	status     int
	txID       string
	block      uint64
	start, end time.Time
	problem    string
}

type event struct {
	block uint64
	txID  string
	name  string
}

// UnderLoad runs `shipnet deploy --version V` (package, install on every
// peer, one approval per organisation by its own admin, commit; the new
// chaincode servers start beside the old ones, which stop after the commit)
// in the middle of a steady load of creates and readings through the
// members' gateways, while shipments with a buyer contact are shipped, and
// fails t if any request failed, an event was lost, doubled or out of
// order, or a message was not sent exactly once.
func UnderLoad(t *testing.T, net *testnet.Network) {
	sys := net.System(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	c, err := sys.ReadyClient(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	exporter := net.Gateway(t, "ExporterMSP").GetNetwork(net.Profile.Channel)
	// A member builds before it upgrades: `deploy` then finds every binary
	// current and the load measures the upgrade, not the compiler.
	net.Shipnet(t, "build")
	before := ContractVersion(t, net, "CarrierMSP")
	t.Logf("running package before the upgrade: %s", before)

	// Shipments in the carrier's custody, for the readings of the load.
	var custody []string
	for range 8 {
		id := walk.NewID("UPG-RD")
		if _, err := c.Create(ctx, walk.NewShipment(id, nil), ""); err != nil {
			t.Fatal(err)
		}
		for _, a := range []struct{ member, action string }{{"exporter", "ship"}, {"exporter", "handover"}} {
			var body any
			if a.action == "handover" {
				body = map[string]string{"toMSP": "CarrierMSP"}
			}
			if _, err := c.Act(ctx, a.member, id, a.action, body, ""); err != nil {
				t.Fatalf("%s %s: %v", a.action, id, err)
			}
		}
		custody = append(custody, id)
	}
	// Shipments with a buyer contact, shipped while the upgrade runs.
	type story struct {
		id      string
		contact shipment.Contact
		created shipment.Shipment
		shipTx  string
	}
	stories := make([]*story, notified)
	for i := range stories {
		st := &story{id: walk.NewID("UPG-NTF"), contact: shipment.Contact{Phone: walk.NewPhone("+35191"),
			Name: fmt.Sprintf("Buyer %d", i), Language: []string{"pt_BR", "en", "fr"}[i%3], Consent: true}}
		rc, err := c.CreateRecord(ctx, walk.NewShipment(st.id, &st.contact), "")
		if err != nil {
			t.Fatal(err)
		}
		st.created = *rc.Shipment
		stories[i] = st
	}

	// The event subscriber starts at the next block: everything from there
	// on must arrive once, in block and transaction order.
	startBlock := height(ctx, t, exporter)
	evCtx, evCancel := context.WithCancel(ctx)
	defer evCancel()
	events, err := exporter.ChaincodeEvents(evCtx, net.Profile.Chaincode, client.WithStartBlock(startBlock))
	if err != nil {
		t.Fatal(err)
	}
	var (
		evMu sync.Mutex
		got  []event
	)
	go func() {
		for e := range events {
			evMu.Lock()
			got = append(got, event{e.BlockNumber, e.TransactionID, e.EventName})
			evMu.Unlock()
		}
	}()

	// The load: one write every writeInterval (open loop), creates and
	// readings in turn, each a single attempt.
	var (
		resMu   sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	record := func(r result) {
		resMu.Lock()
		results = append(results, r)
		resMu.Unlock()
	}
	write := func(kind, member, path string, body any) result {
		r := result{kind: kind, start: time.Now()}
		resp, err := c.Do(ctx, member, http.MethodPost, path, body, map[string]string{"Idempotency-Key": walk.NewID("idem")})
		r.end = time.Now()
		if err != nil {
			r.problem = err.Error()
			return r
		}
		r.status = resp.Status
		var rc walk.Receipt
		if resp.Status/100 == 2 && resp.Decode(&rc) == nil {
			r.txID, r.block = rc.Transaction.ID, rc.Transaction.BlockNumber
		} else {
			r.problem = string(resp.Body)
		}
		return r
	}
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	// The load stops here, or when the test ends whichever way: a failed
	// deploy must not leave it writing into the next test on this network.
	endLoad := sync.OnceFunc(func() { close(stopLoad); <-loadDone })
	t.Cleanup(endLoad)
	loadStart := time.Now()
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(writeInterval)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stopLoad:
				wg.Wait()
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if n%2 == 0 {
					id := walk.NewID("UPG-LD")
					r := write("create", "exporter", "/v1/shipments", walk.NewShipment(id, nil))
					r.id = id
					record(r)
					return
				}
				id := custody[n%len(custody)]
				at := time.Now().UTC().Truncate(time.Millisecond)
				r := write("readings", "carrier", "/v1/shipments/"+id+"/readings", map[string]any{"readings": []shipment.Reading{
					{SensorID: "reefer-1", Time: at, Celsius: 4.5}, {SensorID: "reefer-2", Time: at, Celsius: 5.0}}})
				r.id = id
				record(r)
			}()
		}
	}()

	select {
	case <-time.After(loadBefore):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	// The upgrade, and the shipments shipped while it runs.
	version := "1.1-" + strings.ToLower(walk.NewID("u")[2:])
	upgradeStart := time.Now()
	shipped := make(chan error, 1)
	go func() {
		for _, st := range stories {
			r := write("ship", "exporter", "/v1/shipments/"+st.id+"/ship", nil)
			r.id = st.id
			record(r)
			st.shipTx = r.txID
			time.Sleep(2 * time.Second)
		}
		shipped <- nil
	}()
	out := net.Shipnet(t, "deploy", "--version", version)
	upgradeEnd := time.Now()
	t.Logf("upgrade to %s took %s:\n%s", version, upgradeEnd.Sub(upgradeStart).Round(100*time.Millisecond), out)
	<-shipped
	select {
	case <-time.After(loadAfter):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	endLoad()
	loadEnd := time.Now()

	// The switch happened: the new package answers.
	after := ContractVersion(t, net, "CarrierMSP")
	t.Logf("running package after the upgrade: %s", after)
	if after == before || !strings.HasPrefix(after, "shiptrace_"+version+":") {
		t.Errorf("ContractVersion after the upgrade = %s, want the new package shiptrace_%s:... (before: %s)", after, version, before)
	}
	for _, p := range net.Status(t) {
		if p.Kind == "chaincode" && !p.Up {
			t.Errorf("chaincode server %s not up after the upgrade: %s", p.Name, p.Note)
		}
	}

	// No request failed.
	resMu.Lock()
	all := slices.Clone(results)
	resMu.Unlock()
	failed := 0
	phase := map[string]int{}
	for _, r := range all {
		if r.status/100 != 2 {
			failed++
			switch {
			case r.end.Before(upgradeStart):
				phase["before"]++
			case r.end.Before(upgradeEnd):
				phase["during"]++
			default:
				phase["after"]++
			}
			if failed <= 10 {
				t.Errorf("%s %s failed at %s (%s into the upgrade): %d %s", r.kind, r.id, r.end.Format("15:04:05.000"),
					r.end.Sub(upgradeStart).Round(time.Millisecond), r.status, r.problem)
			}
		}
	}
	rate := func(from, to time.Time) float64 {
		n := 0
		for _, r := range all {
			if r.status/100 == 2 && !r.end.Before(from) && r.end.Before(to) {
				n++
			}
		}
		return float64(n) / to.Sub(from).Seconds()
	}
	t.Logf("failed requests by phase: %v", phase)
	t.Logf("%d writes (creates, readings, ships), %d failed; committed writes/s: before %.1f, during the upgrade (%s) %.1f, after %.1f",
		len(all), failed, rate(loadStart, upgradeStart), upgradeEnd.Sub(upgradeStart).Round(100*time.Millisecond),
		rate(upgradeStart, upgradeEnd), rate(upgradeEnd, loadEnd))

	// Events: one marker write ends the range; then the chaincode events
	// from startBlock on must be exactly the committed transactions' events
	// (valid transactions of the contract, from the blocks), in order.
	marker := write("create", "exporter", "/v1/shipments", walk.NewShipment(walk.NewID("UPG-END"), nil))
	if marker.status != http.StatusCreated {
		t.Fatalf("marker write: %d %s", marker.status, marker.problem)
	}
	testnet.Eventually(t, time.Minute, "the marker's event", func() bool {
		evMu.Lock()
		defer evMu.Unlock()
		return slices.ContainsFunc(got, func(e event) bool { return e.txID == marker.txID })
	})
	want := committedEvents(ctx, t, exporter, net.Profile.Chaincode, startBlock, marker.block)
	evMu.Lock()
	seen := slices.Clone(got)
	evMu.Unlock()
	seen = slices.DeleteFunc(seen, func(e event) bool { return e.block > marker.block })
	if !slices.Equal(seen, want) {
		t.Errorf("chaincode events from block %d to %d differ from the committed transactions: got %d, want %d\n%s",
			startBlock, marker.block, len(seen), len(want), firstDifference(seen, want))
	}
	byTx := map[string]int{}
	for _, e := range seen {
		byTx[e.txID]++
	}
	for _, r := range all {
		if r.status/100 == 2 && byTx[r.txID] != 1 {
			t.Errorf("%s %s (tx %s, block %d): %d events, want 1", r.kind, r.id, r.txID, r.block, byTx[r.txID])
		}
	}
	t.Logf("%d chaincode events in blocks %d..%d, in order, each committed transaction's once", len(seen), startBlock, marker.block)

	// The notifier: every "shipped" message of the shipments shipped during
	// the upgrade arrives once.
	var expect []walk.Expected
	for _, st := range stories {
		if st.shipTx != "" {
			expect = append(expect, walk.ShippedMessage(st.id, st.shipTx, st.contact, st.created))
		}
	}
	var tally walk.Tally
	err = walk.Eventually(ctx, 3*time.Minute, 500*time.Millisecond, func() error {
		msgs, err := walk.Messages(ctx, sys.StandinURL)
		if err != nil {
			return err
		}
		tally = walk.Check(msgs, expect)
		if len(tally.Missing) > 0 {
			return fmt.Errorf("%s", tally)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("messages at the WhatsApp stand-in: %v", err)
	}
	// A duplicate would come from a second delivery of an event: give the
	// notifier a moment to make one.
	time.Sleep(3 * time.Second)
	msgs, err := walk.Messages(ctx, sys.StandinURL)
	if err != nil {
		t.Fatal(err)
	}
	if tally = walk.Check(msgs, expect); !tally.OK() {
		t.Errorf("stand-in: %s", tally)
	}
	t.Logf("notifier: %d shipped messages for shipments shipped during the upgrade, each received once", len(expect))
}

// ContractVersion is the package the contract reports running on msp's
// peer (its ContractVersion transaction).
func ContractVersion(t *testing.T, net *testnet.Network, msp string) string {
	t.Helper()
	b, err := net.Contract(t, msp).Evaluate("ContractVersion")
	if err != nil {
		t.Fatalf("ContractVersion: %v%s", err, testnet.PeerMessages(err))
	}
	var v struct {
		PackageID string `json:"packageId"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.PackageID
}

// height is the channel height the peer reports: the next block's number.
func height(ctx context.Context, t *testing.T, network *client.Network) uint64 {
	t.Helper()
	b, err := network.GetContract("qscc").EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(network.Name()))
	if err != nil {
		t.Fatalf("GetChainInfo: %v", err)
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info.GetHeight()
}

// committedEvents reads blocks from..to (filtered blocks: each transaction's
// validation code and chaincode event) and returns the events of the valid
// transactions of chaincode, in block and transaction order.
func committedEvents(ctx context.Context, t *testing.T, network *client.Network, chaincode string, from, to uint64) []event {
	t.Helper()
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks, err := network.FilteredBlockEvents(bctx, client.WithStartBlock(from))
	if err != nil {
		t.Fatal(err)
	}
	var out []event
	for b := range blocks {
		for _, tx := range b.GetFilteredTransactions() {
			if tx.GetTxValidationCode() != peer.TxValidationCode_VALID {
				continue
			}
			for _, a := range tx.GetTransactionActions().GetChaincodeActions() {
				if ev := a.GetChaincodeEvent(); ev != nil && ev.GetChaincodeId() == chaincode && ev.GetEventName() != "" {
					out = append(out, event{b.GetNumber(), tx.GetTxid(), ev.GetEventName()})
				}
			}
		}
		if b.GetNumber() >= to {
			return out
		}
	}
	t.Fatalf("block stream ended before block %d", to)
	return nil
}

func firstDifference(got, want []event) string {
	for i := range max(len(got), len(want)) {
		var g, w event
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("first difference at %d: got %+v, want %+v", i, g, w)
		}
	}
	return ""
}
