// Package chaincode_test exercises the shiptrace chaincode on the real local
// network through fabric-gateway, as the three member organisations.
package chaincode_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

const (
	exporterMSP = "ExporterMSP"
	carrierMSP  = "CarrierMSP"
	retailerMSP = "RetailerMSP"
)

// orgs holds one contract per organisation, signed by that org's user.
type orgs struct {
	net       *testnet.Network
	contracts map[string]*client.Contract
	networks  map[string]*client.Network
}

func connect(t testing.TB) *orgs {
	t.Helper()
	net := testnet.Require(t)
	o := &orgs{net: net, contracts: map[string]*client.Contract{}, networks: map[string]*client.Network{}}
	for _, msp := range []string{exporterMSP, carrierMSP, retailerMSP} {
		n := net.Gateway(t, msp, tlsBinding(t, net, msp)).GetNetwork(net.Profile.Channel)
		o.networks[msp] = n
		o.contracts[msp] = n.GetContract(net.Profile.Chaincode)
	}
	return o
}

// tlsBinding tells the gateway the hash of the user's TLS client
// certificate: the peers' deliver service refuses block streams from a
// mutual-TLS client whose requests do not carry it.
func tlsBinding(t testing.TB, net *testnet.Network, msp string) client.ConnectOption {
	t.Helper()
	org, err := net.Profile.Org(msp)
	if err != nil {
		t.Fatal(err)
	}
	user, err := org.User("User1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(user.TLSCert)
	if err != nil {
		t.Fatalf("TLS client certificate of %s: %v", msp, err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("TLS client certificate of %s is not PEM", msp)
	}
	sum := sha256.Sum256(block.Bytes)
	return client.WithTLSClientCertificateHash(sum[:])
}

// sync waits until every organisation's peer has committed block. A commit
// status comes from the submitting org's peer only; the next transaction may
// be endorsed by another org's peer, which must have seen this one.
func (o *orgs) sync(t testing.TB, block uint64) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(o.networks))
	for msp, n := range o.networks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := testnet.AwaitBlock(ctx, n, block); err != nil {
				errs <- fmt.Errorf("%s: %w", msp, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// submit sends a transaction, waits for it to commit valid and for every
// peer to have it; it returns the result and the block it committed in.
func (o *orgs) submit(t testing.TB, msp, fn string, opts ...client.ProposalOption) ([]byte, uint64) {
	t.Helper()
	res, commit, err := o.contracts[msp].SubmitAsync(fn, opts...)
	if err != nil {
		t.Fatalf("%s %s: %s", msp, fn, describe(err))
	}
	st, err := commit.Status()
	if err != nil {
		t.Fatalf("%s %s: commit status: %v", msp, fn, err)
	}
	if !st.Successful {
		t.Fatalf("%s %s: transaction %s invalid: %s", msp, fn, st.TransactionID, st.Code)
	}
	o.sync(t, st.BlockNumber)
	return res, st.BlockNumber
}

func (o *orgs) call(t testing.TB, msp, fn string, args ...string) []byte {
	t.Helper()
	res, _ := o.submit(t, msp, fn, client.WithArguments(args...))
	return res
}

func (o *orgs) evaluate(t testing.TB, msp, fn string, args ...string) []byte {
	t.Helper()
	res, err := o.contracts[msp].EvaluateTransaction(fn, args...)
	if err != nil {
		t.Fatalf("%s %s: %s", msp, fn, describe(err))
	}
	return res
}

// refused expects the ledger to refuse the transaction with code: the
// endorsing peers' chaincode says so and nothing is ordered.
func (o *orgs) refused(t testing.TB, code shipment.Code, evaluate bool, msp, fn string, opts ...client.ProposalOption) {
	t.Helper()
	var err error
	if evaluate {
		_, err = o.contracts[msp].Evaluate(fn, opts...)
	} else {
		_, err = o.contracts[msp].Submit(fn, opts...)
	}
	if err == nil {
		t.Fatalf("%s %s succeeded, want %s", msp, fn, code)
	}
	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		t.Fatalf("%s %s reached the orderer and failed validation (%v), want an endorsement refusal %s", msp, fn, err, code)
	}
	e, ok := shipment.ParseError(describe(err))
	if !ok || e.Code != code {
		t.Fatalf("%s %s: %s, want %s", msp, fn, describe(err), code)
	}
}

// describe renders a gateway error with the peers' messages, where the
// chaincode's "CODE: message" lives.
func describe(err error) string {
	var b strings.Builder
	b.WriteString(err.Error())
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if ed, ok := d.(*gateway.ErrorDetail); ok {
				b.WriteString("; [" + ed.GetMspId() + " " + ed.GetAddress() + "] " + ed.GetMessage())
			}
		}
	}
	return b.String()
}

// hardMaxC is the test shipments' hard maximum: one reading above it
// breaches at once, so a breach needs no half hour of excursion (readings
// must fall inside the custodian's custody, which starts at the hand-over).
var hardMaxC = 12.0

func newShipmentJSON(t testing.TB, id string) string {
	t.Helper()
	n := shipment.NewShipment{
		ID: id, Buyer: retailerMSP, Carrier: carrierMSP, BuyerRef: "PO-" + id,
		Product:            shipment.Product{GTIN: "4006381333931", Lot: "L-42", Description: "Green coffee", Quantity: 320, Unit: "bag"},
		Origin:             shipment.Place{Name: "Santos", Country: "BR"},
		Destination:        shipment.Place{Name: "Hamburg", Country: "DE"},
		ColdChain:          shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30, HardMaxC: &hardMaxC},
		ExpectedDeliveryAt: time.Now().UTC().Add(10 * 24 * time.Hour).Truncate(time.Second),
		Terms:              &shipment.Terms{Currency: "EUR", InvoiceAmountMinor: 1_000_000, LatePenaltyBpsPerDay: 100, LatePenaltyCapBps: 1_000, BreachRefundBps: 2_500},
	}
	return mustJSON(t, n)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, b, err)
	}
	return v
}

// listen collects chaincode events from block start on, until the test ends.
func (o *orgs) listen(t testing.TB, msp string, start uint64) <-chan *client.ChaincodeEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events, err := o.networks[msp].ChaincodeEvents(ctx, o.net.Profile.Chaincode, client.WithStartBlock(start))
	if err != nil {
		t.Fatalf("chaincode events: %v", err)
	}
	return events
}

// eventsFor reads events until it has n for shipment id, or times out.
func eventsFor(t testing.TB, events <-chan *client.ChaincodeEvent, id string, n int) []shipment.Event {
	t.Helper()
	var out []shipment.Event
	timeout := time.After(60 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed after %d of %d events", len(out), n)
			}
			var p shipment.Event
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatalf("event %s payload: %v", ev.EventName, err)
			}
			if p.ShipmentID != id {
				continue
			}
			if string(p.Type) != ev.EventName {
				t.Fatalf("event name %s, payload type %s", ev.EventName, p.Type)
			}
			out = append(out, p)
		case <-timeout:
			t.Fatalf("timed out with %d of %d events for %s", len(out), n, id)
		}
	}
	return out
}

// The contract's answers as a client sees them on the wire. The tests decode
// with their own description of the JSON rather than the contract's Go types,
// so a change of the wire format fails here (and the contract lives in its
// own module, which the services' module does not import).
type wirePage[T any] struct {
	Items    []T    `json:"items"`
	Bookmark string `json:"bookmark"`
}

// writeReceipt is what every write returns.
type writeReceipt struct {
	ShipmentID string          `json:"shipmentId"`
	Status     shipment.Status `json:"status"`
	Version    int64           `json:"version"`
	TxID       string          `json:"txId"`
	Readings   int             `json:"readings"`
	Duplicate  bool            `json:"duplicate"`
}

type historyEntry struct {
	TxID     string             `json:"txId"`
	Time     time.Time          `json:"time"`
	MSPID    string             `json:"mspId"`
	IsDelete bool               `json:"isDelete"`
	Shipment *shipment.Shipment `json:"shipment"`
}

// transientContact is the transient-map key under which the buyer contact
// travels (never in the proposal's arguments, which go into the block).
const transientContact = "buyerContact"
