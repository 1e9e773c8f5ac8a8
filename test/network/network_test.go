// Package network_test checks the Foundation: the real local network takes a
// transaction from each member org through fabric-gateway, every peer serves
// the same ledger, and the ledger survives a stop and start of every process.
package network_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

var orgs = []string{"ExporterMSP", "CarrierMSP", "RetailerMSP"}

func TestEveryOrgWritesAndEveryPeerReadsAcrossRestart(t *testing.T) {
	net := testnet.Require(t)
	id := testnet.UniqueID("NET")

	// One transaction submitted by each org: the exporter creates and hands
	// custody to the carrier, the carrier records readings, the retailer
	// (the buyer) accepts delivery after custody reaches it.
	submit(t, net, "ExporterMSP", "CreateShipment", string(mustJSON(t, newShipment(id))))
	submit(t, net, "ExporterMSP", "Ship", id)
	submit(t, net, "ExporterMSP", "HandOver", id, "CarrierMSP")
	readings := []shipment.Reading{{SensorID: "logger-1", Time: time.Now().UTC().Truncate(time.Millisecond), Celsius: 4.5}}
	submit(t, net, "CarrierMSP", "RecordReadings", id, string(mustJSON(t, readings)))
	submit(t, net, "CarrierMSP", "HandOver", id, "RetailerMSP")
	submit(t, net, "RetailerMSP", "Deliver", id)

	want := readOnEveryPeer(t, net, id)
	if want.Status != shipment.StatusDelivered || want.Custodian != "RetailerMSP" || want.ColdChain.Count != 1 {
		t.Fatalf("after the lifecycle: status %s, custodian %s, readings %d; want DELIVERED, RetailerMSP, 1",
			want.Status, want.Custodian, want.ColdChain.Count)
	}
	heights := waitSameHeight(t, net)

	net.Shipnet(t, "stop")
	for _, s := range net.Status(t) {
		if s.Up {
			t.Fatalf("after stop, %s is still up", s.Name)
		}
	}
	net.Shipnet(t, "start")

	after := readOnEveryPeer(t, net, id)
	if string(mustJSON(t, after)) != string(mustJSON(t, want)) {
		t.Fatalf("shipment changed across restart:\nbefore %s\nafter  %s", mustJSON(t, want), mustJSON(t, after))
	}
	if got := waitSameHeight(t, net); got < heights {
		t.Fatalf("height went down across restart: %d -> %d", heights, got)
	}
	// The restarted network still orders and commits.
	submit(t, net, "ExporterMSP", "CreateShipment", string(mustJSON(t, newShipment(id+"-2"))))
	readOnEveryPeer(t, net, id+"-2")
}

func submit(t *testing.T, net *testnet.Network, msp, fn string, args ...string) {
	t.Helper()
	contract := net.Contract(t, msp)
	_, commit, err := contract.SubmitAsync(fn, client.WithArguments(args...))
	if err != nil {
		t.Fatalf("%s %s: %v", msp, fn, describe(err))
	}
	status, err := commit.Status()
	if err != nil {
		t.Fatalf("%s %s: commit status: %v", msp, fn, err)
	}
	if !status.Successful {
		t.Fatalf("%s %s: transaction %s invalid: %s", msp, fn, status.TransactionID, status.Code)
	}
	// The commit status comes from the submitting org's peer; the next
	// transaction is endorsed by others, which must have this one too or
	// they answer from the state before it (a CONFLICT, or mismatched
	// endorsements).
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, org := range orgs {
		if err := testnet.AwaitBlock(ctx, net.Gateway(t, org).GetNetwork(net.Profile.Channel), status.BlockNumber); err != nil {
			t.Fatalf("%s %s: %s's peer: %v", msp, fn, org, err)
		}
	}
}

// readOnEveryPeer evaluates ReadShipment through each org's gateway, which
// evaluates on that org's own peer, and checks they agree. A peer may lag by
// a block right after a commit elsewhere, so each read waits for agreement.
func readOnEveryPeer(t *testing.T, net *testnet.Network, id string) shipment.Shipment {
	t.Helper()
	var first []byte
	for _, msp := range orgs {
		contract := net.Contract(t, msp)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := contract.EvaluateTransaction("ReadShipment", id)
			if err == nil && (first == nil || string(got) == string(first)) {
				if first == nil {
					first = got
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ReadShipment %s on %s's peer: err %v, got %s, want %s", id, msp, describe(err), got, first)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var s shipment.Shipment
	if err := json.Unmarshal(first, &s); err != nil {
		t.Fatalf("decode shipment: %v: %s", err, first)
	}
	return s
}

// waitSameHeight waits until all six nodes are up and every peer reports the
// same channel height, and returns it.
func waitSameHeight(t *testing.T, net *testnet.Network) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := net.Status(t)
		h, ok := samePeerHeight(st)
		if ok {
			return h
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			localnet.PrintStatus(&b, st)
			t.Fatalf("peers did not reach one height with every node up:\n%s", b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func samePeerHeight(st []localnet.ProcessStatus) (uint64, bool) {
	var h uint64
	for _, s := range st {
		if !s.Up {
			return 0, false
		}
		if s.Kind != "peer" {
			continue
		}
		if h == 0 {
			h = s.Height
		}
		if s.Height == 0 || s.Height != h {
			return 0, false
		}
	}
	return h, h > 0
}

func newShipment(id string) shipment.NewShipment {
	return shipment.NewShipment{
		ID:          id,
		Buyer:       "RetailerMSP",
		Carrier:     "CarrierMSP",
		BuyerRef:    "PO-" + id,
		Product:     shipment.Product{SKU: "COF-GRN-60", Lot: "L-42", Description: "Green coffee", Quantity: 60, Unit: "bag"},
		Origin:      shipment.Place{Name: "Santos", Country: "BR"},
		Destination: shipment.Place{Name: "Hamburg", Country: "DE"},
		ColdChain:   shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30},
		// Far enough ahead that no clock skew makes the shipment overdue.
		ExpectedDeliveryAt: time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second),
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// describe adds the peers' endorsement details, which carry the contract's
// message, to a fabric-gateway error.
func describe(err error) error {
	if err == nil {
		return nil
	}
	details, ok := statusOf(err)
	if !ok {
		return err
	}
	return fmt.Errorf("%w [%s]", err, strings.Join(details, "; "))
}
