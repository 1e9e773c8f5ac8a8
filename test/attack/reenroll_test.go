package attack

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestReenrolWithoutAttributesCannotWidenRights: a device identity (here an
// auditor, which may only read) re-enrols itself straight over Fabric CA's
// REST API with "attr_reqs": [], which Fabric CA 1.5 answers with a
// certificate carrying no attributes at all (an explicit empty list turns
// off the registered ecert defaults). That certificate has no shiptrace.role;
// the ledger must refuse it everything, not grant it its organisation's full
// rights. The attacker then tries to cancel a shipment its organisation
// created.
func TestReenrolWithoutAttributesCannotWidenRights(t *testing.T) {
	net := testnet.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const msp = "ExporterMSP"

	// The exporter's ordinary service identity creates a shipment.
	id := testnet.UniqueID("ATTACK-REENROL")
	exporter := net.Contract(t, msp)
	request, err := json.Marshal(testnet.NewShipment(id, "RetailerMSP", "CarrierMSP", time.Now().Add(72*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	block, err := caSubmit(ctx, exporter, string(shipment.OpCreate), string(request))
	if err != nil {
		t.Fatalf("create %s as %s/User1: %v", id, msp, err)
	}
	caSync(t, net, block)
	before, err := exporter.EvaluateTransaction(string(shipment.OpRead), id)
	if err != nil {
		t.Fatalf("read %s: %v%s", id, err, testnet.PeerMessages(err))
	}

	// The organisation issues a read-only device identity.
	name := testnet.UniqueID("auditor-dev")
	dir := caIssue(t, net, msp, name, shipment.RoleAuditor)
	user, err := fabric.MSPUser(dir)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(user.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if role := caAttrs(t, certPEM)[shipment.RoleAttribute]; role != shipment.RoleAuditor {
		t.Fatalf("issued certificate of %s has %s %q, want %q", name, shipment.RoleAttribute, role, shipment.RoleAuditor)
	}
	key := caReadKey(t, user.Key)

	// The device re-enrols itself, asking for no attributes.
	ca := caDescriptor(t, net, msp)
	re, err := caReenrollRaw(ctx, ca, name, certPEM, key, json.RawMessage(`[]`))
	if err != nil {
		t.Fatalf("re-enrol %s at %s (%s): %v", name, ca.CAName, ca.URL, err)
	}
	attrs := caAttrs(t, re.CertPEM)
	role := attrs[shipment.RoleAttribute]
	t.Logf("re-enrolled %s with attr_reqs []: new certificate serial %x, attributes %v (before: %v)",
		name, caParseCert(t, re.CertPEM).SerialNumber, attrs, caAttrs(t, certPEM))

	// With its new certificate, the device tries what an auditor may not.
	attacker := caConnect(t, net, msp, re.CertPEM, re.Key, user)
	_, err = caSubmit(ctx, attacker, string(shipment.OpCancel), id, "attacker: re-enrolled without attributes")
	switch {
	case err == nil:
		t.Errorf("the ledger let an auditor's certificate re-enrolled without attributes (shiptrace.role %q) Cancel shipment %s: "+
			"a certificate without a known role must be refused everything", role, id)
	case !caEndorsementRefused(err, string(shipment.Forbidden)):
		t.Errorf("Cancel as the re-enrolled %s: want a FORBIDDEN refusal at endorsement from every peer, got %v", name, err)
	default:
		t.Logf("refused as it should be: %v", err)
	}

	after, err := exporter.EvaluateTransaction(string(shipment.OpRead), id)
	if err != nil {
		t.Fatalf("read %s: %v%s", id, err, testnet.PeerMessages(err))
	}
	if string(after) != string(before) {
		var s shipment.Shipment
		_ = json.Unmarshal(after, &s)
		t.Errorf("shipment %s changed (status now %s):\nbefore %s\nafter  %s", id, s.Status, before, after)
	}
}
