package attack

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/shiptrace/shiptrace/fabric"
)

// TestCollusionCannotSeedASensor: attack "seeded sensor". Two members
// collude against the third: their peers sign, outside the chaincode, a
// transaction that writes a glowing summary under the key of a sensor the
// shipment has not registered. A key without a key-level policy falls under
// the chaincode-level policy (any two peers), so Fabric commits it: the
// attack reaches the ledger, and the test checks that first, since
// otherwise it would prove nothing. The contract must not count it:
// ReadShipment ignores the summary while the sensor is unregistered,
// pairing the sensor (RegisterSensors) replaces it, and from then on the
// key carries the shipment parties' policy, so the same two peers can no
// longer write it.
func TestCollusionCannotSeedASensor(t *testing.T) {
	l := openLedger(t)
	id := l.create(t, nil)
	l.do(t, mspExporter, "Ship", id)
	l.do(t, mspExporter, "HandOver", id, mspCarrier)
	colluders := []*party{peerParty(t, l, mspExporter), peerParty(t, l, mspCarrier)}
	const sensor = "L-SEEDED"
	key := "\x00coldchain~sensor\x00" + id + "\x00" + sensor + "\x00"
	forged, err := json.Marshal(map[string]any{"id": sensor, "count": 1000, "minC": 4, "maxC": 5, "sumMilliC": 4_500_000,
		"firstAt": time.Now().Add(-time.Hour).UTC(), "last": map[string]any{"sensorId": sensor, "time": time.Now().UTC(), "celsius": 4.5}})
	if err != nil {
		t.Fatal(err)
	}
	seed := func() attempt {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		env, txID, err := forgeKeyWrite(l.users[mspExporter], colluders, id, key, forged)
		if err != nil {
			t.Fatalf("forge transaction: %v", err)
		}
		a := attempt{err: broadcast(ctx, l.net.Layout(t), l.users[mspExporter], env)}
		if a.err == nil {
			if a.st, a.err = l.users[mspExporter].commitStatus(ctx, txID); a.err != nil {
				t.Fatalf("seeding transaction %s: %v", txID, a.err)
			}
			l.sync(t, a.st.BlockNumber)
		}
		return a
	}
	// count is the shipment's number of readings; before any honest
	// reading the sensor must not be listed at all.
	count := func(honest bool) int64 {
		t.Helper()
		s := l.shipment(t, id)
		for _, st := range s.ColdChain.Sensors {
			if st.ID == sensor && !honest {
				t.Errorf("ATTACK SUCCEEDED: the shipment lists %s: %+v", sensor, st)
			}
		}
		return s.ColdChain.Count
	}

	a := seed()
	if a.err != nil || !a.st.Successful {
		t.Fatalf("two colluding peers could not write the unregistered sensor's key (%v %v): the threat this test guards against is absent, so it proves nothing", a.err, a.st)
	}
	t.Logf("colluding exporter and carrier peers wrote %s's summary in tx %s, block %d, VALID", sensor, a.st.TransactionID, a.st.BlockNumber)
	if n := count(false); n != 0 {
		t.Errorf("ATTACK SUCCEEDED: the seeded summary of an unregistered sensor counts: %d readings", n)
	}

	l.do(t, mspCarrier, "RegisterSensors", id, fmt.Sprintf(`[%q]`, sensor))
	if n := count(false); n != 0 {
		t.Errorf("ATTACK SUCCEEDED: after pairing, the seeded summary counts: %d readings", n)
	}

	again := seed()
	if ok, how := again.refused(); !ok {
		t.Errorf("ATTACK SUCCEEDED: the colluders rewrote the paired sensor's summary: %s", again.st.TransactionID)
	} else if again.st != nil && again.st.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Errorf("second seeding: %s, want ENDORSEMENT_POLICY_FAILURE (the retailer's peer is missing)", how)
	} else {
		t.Logf("second seeding, after pairing: %s", how)
	}

	reading := fmt.Sprintf(`[{"sensorId":%q,"time":%q,"celsius":5}]`, sensor, time.Now().UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano))
	l.do(t, mspCarrier, "RecordReadings", id, reading)
	if n := count(true); n != 1 {
		t.Errorf("after one honest reading the shipment counts %d readings, want 1", n)
	}
}

// peerParty signs as msp's peer itself (its enrolment certificate and key
// from the network's crypto folder): what a member that controls its own
// peer can always do. It only signs; it connects nowhere.
func peerParty(t *testing.T, l *ledger, mspID string) *party {
	t.Helper()
	layout := l.net.Layout(t)
	node, ok := layout.PeerOf(mspID)
	if !ok {
		t.Fatalf("no peer of %s", mspID)
	}
	user, err := fabric.MSPUser(filepath.Dir(layout.NodeMSPDir(node)))
	if err != nil {
		t.Fatal(err)
	}
	id, sign, err := fabric.Identity(mspID, user)
	if err != nil {
		t.Fatalf("identity of %s: %v", node.Name, err)
	}
	return &party{msp: mspID, name: node.Name, user: user, id: id, sign: sign}
}
