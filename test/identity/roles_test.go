package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

var publicReads = []string{"ReadShipment", "ListShipments", "ShipmentHistory", "Readings", "Members", "NotificationAnchor", "Claims"}

// shipmentOps are every operation on shipments (and the membership read):
// everything but the membership votes.
var shipmentOps = []string{"CreateShipment", "SetBuyerContact", "AttachDocument", "Ship", "HandOver", "RecordReadings",
	"RegisterSensors", "Deliver", "Reject", "Cancel", "FlagOverdue", "ReadShipment", "ListShipments", "ShipmentHistory", "Readings",
	"BuyerContact", "DeleteBuyerContact", "Members", "AnchorNotifications", "NotificationAnchor", "OpenClaim", "Claims",
	"AttachPlots", "Plots", "ErasePlots", "RecordDueDiligence"}

// governance are the membership votes: they change the shared network's
// consortium, so the ledger test never casts them (the contract's unit tests
// pin who may).
var governance = []string{"ApproveMembers", "CommitMembers"}

// documented is the role matrix of chaincode/README.md, written out again
// so the ledger is checked against the document rather than against the
// code that implements it.
var documented = map[string][]string{
	"exporter_operator": append([]string{"CreateShipment", "SetBuyerContact", "AttachDocument", "Ship", "HandOver",
		"Cancel", "FlagOverdue", "BuyerContact", "OpenClaim"}, append(slices.Clone(publicReads), "AttachPlots", "Plots")...),
	"carrier_operator": append([]string{"AttachDocument", "HandOver", "RecordReadings", "RegisterSensors", "FlagOverdue"}, publicReads...),
	"sensor":           {"RecordReadings"},
	"buyer_receiver":   append([]string{"AttachDocument", "Deliver", "Reject", "FlagOverdue"}, append(slices.Clone(publicReads), "Plots", "RecordDueDiligence")...),
	"auditor":          publicReads,
	"gateway":          shipmentOps,
	"notifier":         {"ReadShipment", "ListShipments", "BuyerContact", "Members", "AnchorNotifications", "NotificationAnchor", "OpenClaim", "Claims"},
	"admin":            append(slices.Clone(shipmentOps), governance...),
}

// roleHolders are the identities the test has the CAs issue: each role in
// the organisations where it is used.
var roleHolders = [][2]string{
	{exporterMSP, "exporter_operator"},
	{exporterMSP, "sensor"},
	{exporterMSP, "admin"},
	{exporterMSP, "gateway"},
	{exporterMSP, "notifier"},
	{carrierMSP, "carrier_operator"},
	{carrierMSP, "sensor"},
	{carrierMSP, "auditor"},
	{retailerMSP, "buyer_receiver"},
	{retailerMSP, "auditor"},
	{retailerMSP, "gateway"},
}

// TestRoleMatrixOnTheLedger sends every transaction as every CA-issued role,
// each on a fresh shipment where the role's organisation holds the position
// the transaction needs (set up by the organisations' role-less service
// gateway identities), so only the role can refuse it. Allowed calls commit (or
// evaluate); refused ones are refused at endorsement by the contract with
// FORBIDDEN naming the role.
func TestRoleMatrixOnTheLedger(t *testing.T) {
	net := testnet.Require(t)
	o := connectOrgs(t, net)
	holders := issueAll(t, net, roleHolders)

	type pair struct {
		m  *member
		op shipment.Operation
	}
	var pairs []pair
	for _, m := range holders {
		for _, op := range shipment.Operations {
			if !slices.Contains(governance, string(op)) {
				pairs = append(pairs, pair{m, op})
			}
		}
	}
	if n := len(shipment.Operations); n != len(documented["admin"]) {
		t.Fatalf("the contract has %d operations, the documented matrix %d", n, len(documented["admin"]))
	}
	for _, role := range shipment.Roles {
		if _, ok := documented[role]; !ok {
			t.Errorf("the contract's role %s is not in the documented matrix", role)
		}
	}

	// The pairs run concurrently (each on its own shipment); the subtests
	// below report them one by one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	results := make([]error, len(pairs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, p := range pairs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = checkPair(ctx, o, p.m, p.op)
		})
	}
	wg.Wait()
	for i, p := range pairs {
		t.Run(p.m.role+"@"+p.m.msp+"/"+string(p.op), func(t *testing.T) {
			if results[i] != nil {
				t.Fatal(results[i])
			}
		})
	}
}

// checkPair sets up a shipment for op at m's organisation and checks that
// the ledger treats m's call as the documented matrix says.
func checkPair(ctx context.Context, o *orgs, m *member, op shipment.Operation) error {
	c, err := o.positioned(ctx, m.msp, op)
	if err != nil {
		return fmt.Errorf("set up %s for %s: %w", op, m.msp, err)
	}
	res, _, err := run(ctx, m.contract, c)
	if slices.Contains(documented[m.role], string(op)) {
		if err != nil {
			return fmt.Errorf("%s may %s, but: %w", m, op, err)
		}
		return checkResult(m, op, c, res)
	}
	if err == nil {
		return fmt.Errorf("%s may not %s, but it succeeded: %s", m, op, res)
	}
	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		return fmt.Errorf("%s %s reached the orderer and failed validation, want a refusal at endorsement: %w", m, op, err)
	}
	e, ok := shipment.ParseError(err.Error())
	if !ok || e.Code != shipment.Forbidden || !strings.Contains(e.Message, "role "+m.role+" ") {
		return fmt.Errorf("%s %s: want FORBIDDEN naming role %s, got: %w", m, op, m.role, err)
	}
	return nil
}

// checkResult checks what an allowed call returned: a sensor's receipt
// says nothing of the record (no status, no version); the exporter's roles
// get the buyer contact.
func checkResult(m *member, op shipment.Operation, c call, res []byte) error {
	switch {
	case op == shipment.OpRecordReadings && m.role == "sensor":
		var got map[string]any
		if err := json.Unmarshal(res, &got); err != nil || got["shipmentId"] != c.args[0] || got["readings"] != 1.0 || got["txId"] == nil ||
			got["status"] != nil || got["version"] != nil || got["exporter"] != nil || got["coldChain"] != nil || got["updatedRecord"] != nil {
			return fmt.Errorf("sensor's RecordReadings returned %s, want a receipt without status, version, verdict or record", res)
		}
	case op == shipment.OpRecordReadings:
		var got map[string]any
		if err := json.Unmarshal(res, &got); err != nil || got["shipmentId"] != c.args[0] || got["status"] == nil || got["version"] == nil ||
			got["exporter"] != nil {
			return fmt.Errorf("%s's RecordReadings returned %s, want a receipt with status and version", m.role, res)
		}
	case op == shipment.OpReadContact:
		if !strings.Contains(string(res), `"phone":"+4915123456789"`) {
			return fmt.Errorf("BuyerContact returned %s", res)
		}
	case c.evaluate() && len(res) == 0:
		return fmt.Errorf("%s returned nothing", op)
	}
	return nil
}

const testContact = `{"phone":"+4915123456789","name":"Ana Souza","language":"pt_BR","consent":true}`

// positioned sets up, as the organisations' gateway identities (User1), a
// fresh shipment on which msp holds the position op needs, and returns op's
// call on it. FlagOverdue gets a shipment already past its expected
// delivery.
func (o *orgs) positioned(ctx context.Context, msp string, op shipment.Operation) (call, error) {
	id := testnet.UniqueID("SHP-ROLE")
	c := call{fn: string(op), args: []string{id}}
	a, b := others(msp)
	expected := time.Now().Add(10 * 24 * time.Hour)
	if op == shipment.OpFlagOverdue {
		expected = time.Now().Add(4 * time.Second)
	}
	create := func(exporter, buyer, carrier string) step {
		return step{exporter, call{fn: "CreateShipment", args: []string{newShipmentJSON(id, buyer, carrier, expected)}}}
	}
	ship := func(by string) step { return step{by, call{fn: "Ship", args: []string{id}}} }
	handOver := func(from, to string) step { return step{from, call{fn: "HandOver", args: []string{id, to}}} }
	inTransit := []step{create(exporterMSP, retailerMSP, carrierMSP), ship(exporterMSP), handOver(exporterMSP, carrierMSP)}
	setContact := step{msp, call{fn: "SetBuyerContact", args: []string{id},
		transient: map[string][]byte{"buyerContact": []byte(testContact)}, endorsers: []string{msp}}}

	var steps []step
	switch op {
	case shipment.OpCreate:
		c.args = []string{newShipmentJSON(id, a, b, expected)}
	case shipment.OpList:
		c.args = []string{`{}`, "10", ""}
	case shipment.OpSetContact:
		steps = []step{create(msp, a, b)}
		c.transient, c.endorsers = setContact.c.transient, []string{msp}
	case shipment.OpReadContact:
		steps = []step{create(msp, a, b), setContact}
	case shipment.OpDeleteContact:
		steps = []step{create(msp, a, b), setContact}
		c.endorsers = []string{msp}
	case shipment.OpShip:
		steps = []step{create(msp, a, b)}
	case shipment.OpCancel:
		steps = []step{create(msp, a, b)}
		c.args = append(c.args, "order withdrawn")
	case shipment.OpHandOver, shipment.OpRecordReadings, shipment.OpRegisterSensors:
		to := carrierMSP
		switch msp {
		case exporterMSP:
			steps = []step{create(exporterMSP, retailerMSP, carrierMSP), ship(exporterMSP)}
		case carrierMSP:
			steps, to = inTransit, retailerMSP
		default:
			steps = append(inTransit, handOver(carrierMSP, msp))
		}
		switch op {
		case shipment.OpHandOver:
			c.args = append(c.args, to)
		case shipment.OpRegisterSensors:
			c.args = append(c.args, `["S1","S2"]`)
		default:
			c.args = append(c.args, readingsJSON(0))
		}
	case shipment.OpDeliver, shipment.OpReject:
		steps = []step{create(a, msp, b), ship(a)}
		if op == shipment.OpReject {
			c.args = append(c.args, "pallet crushed")
		}
	case shipment.OpAttachDocument:
		steps = inTransit
		c.args = append(c.args, `{"type":"delivery_photo","sha256":"`+strings.Repeat("ef", 32)+`"}`)
	case shipment.OpReadings:
		steps = inTransit
		c.args = append(c.args, "", "", "10", "")
	case shipment.OpFlagOverdue, shipment.OpRead:
		steps = inTransit
	case shipment.OpHistory:
		steps = inTransit
		c.args = append(c.args, "10", "")
	case shipment.OpOpenClaim:
		steps = []step{create(msp, a, b), ship(msp)}
		c.args = append(c.args, `{"id":"CLM-ROLE01","category":"damaged","wordsSha256":"`+strings.Repeat("ab", 32)+`"}`)
	case shipment.OpClaims:
		steps = inTransit
	case shipment.OpReadMembers:
		c.args = nil
	case shipment.OpAnchorNotifications:
		c.args = []string{anchorJSON("nb-" + id)}
	case shipment.OpReadAnchor:
		steps = []step{{msp, call{fn: "AnchorNotifications", args: []string{anchorJSON("nb-" + id)}}}}
		c.args = []string{"nb-" + id}
	case shipment.OpAttachPlots:
		steps = []step{create(msp, a, b)}
		c.transient, c.endorsers = map[string][]byte{"plots": []byte(testPlots)}, []string{msp, a}
	case shipment.OpReadPlots, shipment.OpErasePlots:
		attach := step{msp, call{fn: "AttachPlots", args: []string{id}, transient: map[string][]byte{"plots": []byte(testPlots)}, endorsers: []string{msp, a}}}
		steps = []step{create(msp, a, b), attach}
		if op == shipment.OpErasePlots {
			c.endorsers = []string{msp, a}
		}
	case shipment.OpRecordDueDiligence:
		steps = []step{create(a, msp, b)}
		c.args = append(c.args, `{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8"}`)
	default:
		return call{}, fmt.Errorf("no set-up for %s", op)
	}
	for _, s := range steps {
		if err := o.submit(ctx, s.msp, s.c); err != nil {
			return call{}, err
		}
	}
	if op == shipment.OpRecordReadings {
		// Dated now, after the set-up's hand-over: a reading must fall
		// inside the recording organisation's custody.
		c.args[1] = readingsJSON(0)
	}
	if op == shipment.OpFlagOverdue {
		// Wait for the moment the shipment is overdue (transaction time is
		// the client's clock, which is this one).
		select {
		case <-time.After(time.Until(expected.Add(time.Second))):
		case <-ctx.Done():
			return call{}, ctx.Err()
		}
	}
	return c, nil
}

// testPlots is one EUDR point plot (see shipment/plots).
const testPlots = `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[-47.123456,-15.654321]},` +
	`"properties":{"producerName":"Role Test","country":"BR","productionFrom":"2025-05-01","productionTo":"2025-08-31","commodity":"coffee","hsCode":"090111","quantityKg":800,"areaHa":1.5}}]}`

type step struct {
	msp string
	c   call
}

// TestRevokedSensorIsRefusedByTheLedger revokes a sensor at its CA, which
// puts the CRL into the channel configuration: from then on the peers refuse
// the sensor's proposals before the contract runs, while another sensor of
// the same organisation keeps recording.
func TestRevokedSensorIsRefusedByTheLedger(t *testing.T) {
	net := testnet.Require(t)
	o := connectOrgs(t, net)
	ms := issueAll(t, net, [][2]string{{carrierMSP, "sensor"}, {carrierMSP, "sensor"}})
	revoked, kept := ms[0], ms[1]

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := o.positioned(ctx, carrierMSP, shipment.OpRecordReadings)
	if err != nil {
		t.Fatalf("set up a shipment the carrier holds: %v", err)
	}
	// One attempt never waits long: a transaction endorsed just before the
	// peers applied the CRL can be dropped by the orderer, which validates
	// pending messages again under the new configuration, and then no commit
	// status ever comes.
	record := func(m *member, n int) error {
		c.args[1] = readingsJSON(n)
		attempt, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, _, err := run(attempt, m.contract, c)
		return err
	}
	// refusedByPeer: the endorsing peer refused the proposal because its
	// creator is not a valid member, before the contract ran.
	refusedByPeer := func(err error) bool {
		var endorseErr *client.EndorseError
		_, contractRefusal := shipment.ParseError(err.Error())
		return errors.As(err, &endorseErr) && !contractRefusal && strings.Contains(err.Error(), "access denied")
	}
	if err := record(revoked, 1); err != nil {
		t.Fatalf("%s before revocation: %v", revoked, err)
	}

	if out, err := shipnetIdentity(ctx, net, "list", "--org", carrierMSP); err != nil || !strings.Contains(out, revoked.name) {
		t.Fatalf("identity list does not show %s: %v\n%s", revoked.name, err, out)
	}
	if _, err := shipnetIdentity(ctx, net, "revoke", "--org", carrierMSP, "--name", revoked.name); err != nil {
		t.Fatal(err)
	}

	// Each peer applies the new channel configuration when it commits that
	// block. Poll until the peer refuses the revoked sensor, with a deadline;
	// meanwhile an attempt may still commit or be lost in transition.
	deadline := time.Now().Add(2 * time.Minute)
	for n := 2; ; n++ {
		err := record(revoked, n)
		if err != nil && refusedByPeer(err) {
			t.Logf("revoked sensor refused: %v", err)
			break
		}
		if err != nil {
			t.Logf("attempt %d during the configuration change: %v", n, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not refused by the peers 2 minutes after revocation; last attempt: %v", revoked, err)
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if err := record(revoked, 1000); err == nil || !refusedByPeer(err) {
		t.Fatalf("%s after being refused once: %v, want a lasting refusal by the peers", revoked, err)
	}
	if err := record(kept, 1001); err != nil {
		t.Fatalf("%s, not revoked, was refused: %v", kept, err)
	}
}

// anchorJSON is a notification anchor request for batch (a made-up root:
// the contract checks its form), dated a minute ago.
func anchorJSON(batch string) string {
	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	return fmt.Sprintf(`{"batchId":%q,"root":"%s","leafCount":2,"firstAt":%q,"lastAt":%q}`, batch, strings.Repeat("ab", 32), at, at)
}
