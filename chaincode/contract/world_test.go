package contract

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/chaincode/shimfake"
	"github.com/shiptrace/shiptrace/shipment"
)

const (
	exporterMSP = "ExporterMSP"
	carrierMSP  = "CarrierMSP"
	buyerMSP    = "RetailerMSP"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// noAttribute is the role value of a call whose certificate carries no
// shiptrace.role attribute at all (an empty role means the gateway's).
const noAttribute = "(no attribute)"

// buyer2MSP is a second retailer, a member in that capacity only.
const buyer2MSP = "Retailer2MSP"

// voters are the organisations of the test consortium.
var voters = []string{exporterMSP, carrierMSP, buyerMSP, buyer2MSP}

// testMembers is the consortium of the contract tests: the three main
// organisations in every capacity, so any of them can play any party, and
// a second retailer that can only buy.
func testMembers(seq int64) string {
	all := []shipment.Capacity{shipment.CapacityCarrier, shipment.CapacityExporter, shipment.CapacityRetailer}
	m := shipment.Members{Sequence: seq}
	for _, id := range []string{carrierMSP, exporterMSP, buyerMSP} {
		m.Members = append(m.Members, shipment.Member{MSPID: id, Name: id, Capacities: all})
	}
	m.Members = append(m.Members, shipment.Member{MSPID: buyer2MSP, Name: "Second retailer", Capacities: []shipment.Capacity{shipment.CapacityRetailer}})
	b, _ := json.Marshal(m)
	return string(b)
}

// world is one ledger with the chaincode deployed, driven through
// contractapi's Invoke exactly as the peer drives it, by callers holding real
// X.509 identities.
type world struct {
	t      testing.TB
	ledger *shimfake.Ledger
	cc     *contractapi.ContractChaincode
	now    time.Time
	ids    map[string][]byte
	setup  int // events of the set-up (the member registry), which tests skip
}

// newWorld starts the ledger an hour before the readings' base time, with
// the member registry committed by the three organisations' admins. The
// peer's clock is the world's: each transaction is on time unless a call
// says otherwise.
func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, ledger: shimfake.New(), now: rbase.Add(-time.Hour), ids: map[string][]byte{}}
	cc, err := contractapi.NewChaincode(New(nil, WithClock(func() time.Time { return w.now }, shipment.DefaultClockTolerance)))
	if err != nil {
		t.Fatalf("NewChaincode: %v", err)
	}
	w.cc = cc
	w.commitMembers(testMembers(1))
	w.setup = len(w.ledger.Events())
	return w
}

// events returns the events since the set-up.
func (w *world) events() []shimfake.Event { return w.ledger.Events()[w.setup:] }

// commitMembers has every organisation's admin approve the member set, then
// commits it.
func (w *world) commitMembers(members string) {
	w.t.Helper()
	for _, msp := range voters {
		if res := w.invoke(call{msp: msp, role: shipment.RoleAdmin, fn: "ApproveMembers", args: []string{members}}); res.Response.GetStatus() != 200 {
			w.t.Fatalf("ApproveMembers by %s: %s", msp, res.Response.GetMessage())
		}
	}
	if res := w.invoke(call{msp: exporterMSP, role: shipment.RoleAdmin, fn: "CommitMembers", args: []string{members}}); res.Response.GetStatus() != 200 {
		w.t.Fatalf("CommitMembers: %s", res.Response.GetMessage())
	}
}

// attrOID is where Fabric CA puts identity attributes in a certificate.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// creator returns a serialized identity of mspID with a shiptrace.role
// attribute: role, the gateway's role when role is empty, none for
// noAttribute.
func (w *world) creator(mspID, role string) []byte {
	w.t.Helper()
	if id, ok := w.ids[mspID+"|"+role]; ok {
		return id
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "user1", Organization: []string{mspID}},
		NotBefore:    t0.Add(-24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour),
	}
	if role == "" {
		role = shipment.RoleGateway
	}
	if role != noAttribute {
		attrs, _ := json.Marshal(map[string]map[string]string{"attrs": {shipment.RoleAttribute: role}})
		tmpl.ExtraExtensions = []pkix.Extension{{Id: attrOID, Value: attrs}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})})
	if err != nil {
		w.t.Fatal(err)
	}
	w.ids[mspID+"|"+role] = id
	return id
}

type call struct {
	msp, role string
	transient map[string][]byte
	fn        string
	args      []string
	skew      time.Duration // the submitter's clock minus the peer's
}

// invoke runs one transaction one minute after the previous one, and after
// the latest reading it records (loggers upload what they measured). The
// transaction time is the world's clock plus the call's skew.
func (w *world) invoke(c call) shimfake.Result {
	w.t.Helper()
	return w.ledger.Invoke(w.cc, w.tx(c))
}

// endorse runs a transaction on the committed state without committing it;
// commit them with w.ledger.CommitBlock, as transactions of one block.
func (w *world) endorse(c call) shimfake.Result {
	w.t.Helper()
	return w.ledger.Endorse(w.cc, w.tx(c))
}

func (w *world) tx(c call) shimfake.Tx {
	w.now = w.now.Add(time.Minute)
	if c.fn == "RecordReadings" && len(c.args) == 2 {
		var rs []shipment.Reading
		if json.Unmarshal([]byte(c.args[1]), &rs) == nil {
			for _, r := range rs {
				if r.Time.After(w.now) {
					w.now = r.Time.Add(time.Minute)
				}
			}
		}
	}
	return shimfake.Tx{
		Creator: w.creator(c.msp, c.role), Time: w.now.Add(c.skew), Transient: c.transient,
		Args: append([]string{c.fn}, c.args...),
	}
}

// ok runs a transaction that must succeed and returns its payload.
func (w *world) ok(msp, fn string, args ...string) string {
	w.t.Helper()
	res := w.invoke(call{msp: msp, fn: fn, args: args})
	if res.Response.GetStatus() != 200 {
		w.t.Fatalf("%s by %s: %s", fn, msp, res.Response.GetMessage())
	}
	return string(res.Response.GetPayload())
}

// refused runs a transaction that must fail with code and write nothing.
func (w *world) refused(code shipment.Code, msp, fn string, args ...string) string {
	w.t.Helper()
	return w.refusedCall(code, call{msp: msp, fn: fn, args: args})
}

func (w *world) refusedCall(code shipment.Code, c call) string {
	w.t.Helper()
	before := w.snapshot()
	res := w.invoke(c)
	if res.Response.GetStatus() == 200 {
		w.t.Fatalf("%s by %s succeeded, want %s", c.fn, c.msp, code)
	}
	e, ok := shipment.ParseError(res.Response.GetMessage())
	if !ok || e.Code != code {
		w.t.Fatalf("%s by %s: %q, want %s", c.fn, c.msp, res.Response.GetMessage(), code)
	}
	if res.Event != nil || w.snapshot() != before {
		w.t.Fatalf("refused %s changed the ledger", c.fn)
	}
	return res.Response.GetMessage()
}

func (w *world) snapshot() string {
	var b strings.Builder
	for _, k := range w.ledger.Keys() {
		b.WriteString(k)
		b.WriteByte('=')
		b.Write(w.ledger.State(k))
		b.WriteByte('\n')
	}
	return b.String()
}

func (w *world) shipment(payload string) shipment.Shipment {
	w.t.Helper()
	var s shipment.Shipment
	if err := json.Unmarshal([]byte(payload), &s); err != nil {
		w.t.Fatalf("decode shipment %q: %v", payload, err)
	}
	return s
}

// read returns the record as the buyer's peer has it.
func (w *world) read(id string) shipment.Shipment {
	w.t.Helper()
	return w.shipment(w.ok(buyerMSP, "ReadShipment", id))
}

// receipt decodes a write's result strictly: a field the Receipt does not
// have (say, the whole record) fails.
func (w *world) receipt(payload string) Receipt {
	w.t.Helper()
	var r Receipt
	dec := json.NewDecoder(strings.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		w.t.Fatalf("decode receipt %q: %v", payload, err)
	}
	return r
}

func newShipmentJSON(t testing.TB, id string, change ...func(n *shipment.NewShipment)) string {
	t.Helper()
	n := shipment.NewShipment{
		ID: id, Buyer: buyerMSP, Carrier: carrierMSP, BuyerRef: "PO-" + id,
		Product:            shipment.Product{SKU: "COF-GRN-60", Lot: "L-42", Description: "Green coffee", Quantity: 320, Unit: "bag"},
		Origin:             shipment.Place{Name: "Santos", Country: "BR"},
		Destination:        shipment.Place{Name: "Hamburg", Country: "DE"},
		ColdChain:          shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30},
		ExpectedDeliveryAt: t0.Add(10 * 24 * time.Hour),
		Terms:              &shipment.Terms{Currency: "EUR", InvoiceAmountMinor: 1_000_000, LatePenaltyBpsPerDay: 100, LatePenaltyCapBps: 1_000, BreachRefundBps: 2_500},
	}
	for _, c := range change {
		c(&n)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readingsJSON(t testing.TB, rs []shipment.Reading) string {
	t.Helper()
	b, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// inTransit creates a shipment and hands it to the carrier.
func (w *world) inTransit(id string) {
	w.t.Helper()
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(w.t, id))
	w.ok(exporterMSP, "Ship", id)
	w.ok(exporterMSP, "HandOver", id, carrierMSP)
}
