package contract

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// roleIdentity is a certificate with a shiptrace.role attribute in one
// organisation, as the organisations' CAs issue them.
type roleIdentity struct{ msp, role string }

var roleIdentities = []roleIdentity{
	{exporterMSP, shipment.RoleExporterOperator},
	{exporterMSP, shipment.RoleSensor},
	{exporterMSP, shipment.RoleAdmin},
	{exporterMSP, shipment.RoleGateway},
	{exporterMSP, shipment.RoleNotifier},
	{carrierMSP, shipment.RoleGateway},
	{carrierMSP, shipment.RoleCarrierOperator},
	{carrierMSP, shipment.RoleSensor},
	{carrierMSP, shipment.RoleAuditor},
	{buyerMSP, shipment.RoleBuyerReceiver},
	{buyerMSP, shipment.RoleAuditor},
	{carrierMSP, "intern"},
}

// others returns the two member organisations other than msp.
func others(msp string) (string, string) {
	var out []string
	for _, m := range []string{exporterMSP, carrierMSP, buyerMSP} {
		if m != msp {
			out = append(out, m)
		}
	}
	return out[0], out[1]
}

// positioned prepares, with the gateway's identities, a shipment on which
// msp holds the position op needs, and returns op's call. So the only thing
// that can refuse the call is the caller's role.
func (w *world) positioned(id, msp, role string, op shipment.Operation) call {
	w.t.Helper()
	c := call{msp: msp, role: role, fn: string(op), args: []string{id}}
	a, b := others(msp)
	createAs := func(exporter, buyer, carrier string) {
		w.ok(exporter, "CreateShipment", newShipmentJSON(w.t, id, func(n *shipment.NewShipment) { n.Buyer, n.Carrier = buyer, carrier }))
	}
	contact := map[string][]byte{TransientContact: []byte(`{"phone":"+4915123456789","name":"Ana Souza","language":"pt_BR","consent":true}`)}
	switch op {
	case shipment.OpCreate:
		c.args = []string{newShipmentJSON(w.t, id, func(n *shipment.NewShipment) { n.Buyer, n.Carrier = a, b })}
	case shipment.OpSetContact, shipment.OpShip, shipment.OpCancel:
		createAs(msp, a, b)
		c.transient = contact
		if op == shipment.OpCancel {
			c.args = append(c.args, "order withdrawn")
		}
	case shipment.OpReadContact, shipment.OpDeleteContact:
		createAs(msp, a, b)
		if res := w.invoke(call{msp: msp, fn: "SetBuyerContact", args: []string{id}, transient: contact}); res.Response.GetStatus() != 200 {
			w.t.Fatalf("SetBuyerContact: %s", res.Response.GetMessage())
		}
	case shipment.OpHandOver, shipment.OpRecordReadings, shipment.OpRegisterSensors:
		if msp == exporterMSP {
			createAs(exporterMSP, buyerMSP, carrierMSP)
			w.ok(exporterMSP, "Ship", id)
		} else {
			w.inTransit(id)
			if msp != carrierMSP {
				w.ok(carrierMSP, "HandOver", id, msp)
			}
		}
		if op == shipment.OpHandOver {
			to := carrierMSP
			if msp == carrierMSP {
				to = buyerMSP
			}
			c.args = append(c.args, to)
		} else if op == shipment.OpRegisterSensors {
			c.args = append(c.args, `["S1"]`)
		} else {
			c.args = append(c.args, readingsJSON(w.t, []shipment.Reading{rd("S1", 0, 5)}))
		}
	case shipment.OpDeliver, shipment.OpReject:
		createAs(a, msp, b)
		w.ok(a, "Ship", id)
		if op == shipment.OpReject {
			c.args = append(c.args, "pallet crushed")
		}
	case shipment.OpAttachDocument:
		w.inTransit(id)
		c.args = append(c.args, `{"type":"delivery_photo","sha256":"`+strings.Repeat("ef", 32)+`"}`)
	case shipment.OpFlagOverdue:
		w.inTransit(id)
		w.now = t0.Add(10*24*time.Hour + time.Hour)
	case shipment.OpList:
		w.inTransit(id)
		c.args = []string{`{}`, "10", ""}
	case shipment.OpReadings:
		w.inTransit(id)
		c.args = append(c.args, "", "", "10", "")
	case shipment.OpRead:
		w.inTransit(id)
	case shipment.OpHistory:
		w.inTransit(id)
		c.args = append(c.args, "10", "")
	case shipment.OpOpenClaim:
		createAs(msp, a, b)
		w.ok(msp, "Ship", id)
		c.args = append(c.args, claimJSON(w.t, "CLM-ROLE01", shipment.ClaimDamaged))
	case shipment.OpClaims:
		w.inTransit(id)
	case shipment.OpAttachPlots:
		createAs(msp, a, b)
		c.transient = plotsTransient()
	case shipment.OpReadPlots, shipment.OpErasePlots:
		createAs(msp, a, b)
		if res := w.invoke(call{msp: msp, fn: "AttachPlots", args: []string{id}, transient: plotsTransient()}); res.Response.GetStatus() != 200 {
			w.t.Fatalf("AttachPlots: %s", res.Response.GetMessage())
		}
	case shipment.OpRecordDueDiligence:
		createAs(a, msp, b)
		c.args = append(c.args, `{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8"}`)
	case shipment.OpReadMembers:
		c.args = nil
	case shipment.OpAnchorNotifications:
		c.args = []string{anchorJSON("nb-roles-0001", 3)}
	case shipment.OpReadAnchor:
		w.ok(msp, "AnchorNotifications", anchorJSON("nb-roles-0002", 3))
		c.args = []string{"nb-roles-0002"}
	case shipment.OpApproveMembers, shipment.OpCommitMembers:
		next := testMembers(2)
		c.args = []string{next}
		if op == shipment.OpCommitMembers {
			// The other organisations' votes make a majority (3 of 4).
			for _, voter := range []string{a, b, buyer2MSP} {
				if res := w.invoke(call{msp: voter, role: shipment.RoleAdmin, fn: "ApproveMembers", args: []string{next}}); res.Response.GetStatus() != 200 {
					w.t.Fatalf("ApproveMembers by %s: %s", voter, res.Response.GetMessage())
				}
			}
		}
	default:
		w.t.Fatalf("no fixture for %s", op)
	}
	return c
}

// TestRoleMatrixThroughTheContract runs every transaction as every role on a
// shipment where the role's organisation holds the position the transaction
// needs: it succeeds exactly when the role allows it; otherwise it is
// refused with FORBIDDEN naming the role and writes nothing.
func TestRoleMatrixThroughTheContract(t *testing.T) {
	for _, ri := range roleIdentities {
		for _, op := range shipment.Operations {
			t.Run(ri.role+"@"+ri.msp+"/"+string(op), func(t *testing.T) {
				w := newWorld(t)
				c := w.positioned("SHP-ROLE-1", ri.msp, "", op)
				c.role = ri.role
				if !shipment.RoleAllows(ri.role, op) {
					msg := w.refusedCall(shipment.Forbidden, c)
					if !strings.Contains(msg, "role "+ri.role) && !strings.Contains(msg, "role "+strconv.Quote(ri.role)) {
						t.Fatalf("refusal %q does not name the role", msg)
					}
					return
				}
				res := w.invoke(c)
				if res.Response.GetStatus() != 200 {
					t.Fatalf("%s as %s: %s", op, ri.role, res.Response.GetMessage())
				}
			})
		}
	}
}

// TestNoRoleMayDoNothing: a certificate without the attribute is refused
// every transaction, even where its organisation holds the position: Fabric
// CA issues such a certificate to any identity that re-enrols asking for no
// attributes, so "no role" must never mean the organisation's rights.
func TestNoRoleMayDoNothing(t *testing.T) {
	for _, msp := range []string{exporterMSP, carrierMSP, buyerMSP} {
		for _, op := range shipment.Operations {
			t.Run(msp+"/"+string(op), func(t *testing.T) {
				w := newWorld(t)
				c := w.positioned("SHP-ROLE-2", msp, noAttribute, op)
				msg := w.refusedCall(shipment.Forbidden, c)
				if !strings.Contains(msg, "no shiptrace.role attribute") {
					t.Fatalf("refusal %q does not say the certificate has no role", msg)
				}
			})
		}
	}
}

// TestRoleIsCheckedBeforeTheLedger: a caller refused by its role learns
// nothing, not even whether a shipment exists.
func TestRoleIsCheckedBeforeTheLedger(t *testing.T) {
	w := newWorld(t)
	for _, c := range []call{{fn: "ReadShipment", args: []string{"SHP-NOWHERE"}}, {fn: "ShipmentHistory", args: []string{"SHP-NOWHERE", "10", ""}},
		{fn: "Ship", args: []string{"SHP-NOWHERE"}}} {
		c.msp, c.role = carrierMSP, shipment.RoleSensor
		msg := w.refusedCall(shipment.Forbidden, c)
		if !strings.Contains(msg, "role sensor may not "+c.fn) {
			t.Fatalf("%s: %q", c.fn, msg)
		}
	}
	w.refusedCall(shipment.Forbidden, call{msp: carrierMSP, role: shipment.RoleSensor, fn: "ListShipments", args: []string{`{}`, "10", ""}})
	w.refusedCall(shipment.Forbidden, call{msp: carrierMSP, role: shipment.RoleSensor, fn: "Readings", args: []string{"SHP-NOWHERE", "", "", "10", ""}})
}

// TestSensorRecordsOnlyWhileItsOrganisationHoldsTheGoods: before the hand-over
// the exporter's sensors record and the carrier's are refused; after it, the
// other way round.
func TestSensorRecordsOnlyWhileItsOrganisationHoldsTheGoods(t *testing.T) {
	w := newWorld(t)
	id := "SHP-SENSOR-1"
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	w.ok(exporterMSP, "Ship", id)
	batch := func(minute int) []string {
		return []string{id, readingsJSON(t, []shipment.Reading{rd("S1", minute, 5)})}
	}
	sensorAt := func(msp string, minute int) call {
		return call{msp: msp, role: shipment.RoleSensor, fn: "RecordReadings", args: batch(minute)}
	}
	if res := w.invoke(sensorAt(exporterMSP, 0)); res.Response.GetStatus() != 200 {
		t.Fatalf("exporter's sensor while the exporter holds the goods: %s", res.Response.GetMessage())
	}
	msg := w.refusedCall(shipment.Forbidden, sensorAt(carrierMSP, 1))
	if !strings.Contains(msg, "only the current custodian (ExporterMSP)") || !strings.Contains(msg, "CarrierMSP with role sensor") {
		t.Fatalf("carrier's sensor before the hand-over: %q", msg)
	}
	w.ok(exporterMSP, "HandOver", id, carrierMSP)
	w.refusedCall(shipment.Forbidden, sensorAt(exporterMSP, 2))
	if res := w.invoke(sensorAt(carrierMSP, 3)); res.Response.GetStatus() != 200 {
		t.Fatalf("carrier's sensor after the hand-over: %s", res.Response.GetMessage())
	}
}

// TestSensorGetsAReceiptNotTheShipment: a sensor may not read shipments, so
// its receipt says nothing of the record or the cold chain (no status, no
// version, no verdict), also for a retried batch; a role that may read gets
// status, version and the verdict too.
func TestSensorGetsAReceiptNotTheShipment(t *testing.T) {
	w := newWorld(t)
	id := "SHP-SENSOR-2"
	w.inTransit(id)
	first := call{msp: carrierMSP, role: shipment.RoleSensor, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 5), rd("S2", 0, 6)})}}
	tests := []struct {
		name string
		c    call
		want Receipt
	}{
		{"new batch", first, Receipt{ShipmentID: id, Readings: 2}},
		{"retried batch", first, Receipt{ShipmentID: id, Readings: 2, Duplicate: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := w.invoke(tt.c)
			if res.Response.GetStatus() != 200 {
				t.Fatal(res.Response.GetMessage())
			}
			tt.want.TxID = res.Stub.GetTxID()
			if got := w.receipt(string(res.Response.GetPayload())); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("receipt %+v, want %+v", got, tt.want)
			}
		})
	}
	op := call{msp: carrierMSP, role: shipment.RoleCarrierOperator, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 10, 5)})}}
	res := w.invoke(op)
	// Version 4: the sensor's first batch registered S1 and S2 in the
	// record; this batch of a registered sensor leaves the record alone.
	got := w.receipt(string(res.Response.GetPayload()))
	want := Receipt{ShipmentID: id, Status: shipment.StatusInTransit, Version: 4, TxID: res.Stub.GetTxID(), Readings: 1,
		ColdChain: &ReadingsColdChain{State: shipment.ColdChainOK}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("carrier operator got %+v, want %+v", got, want)
	}
	if s := w.read(id); s.ColdChain.Count != 3 || s.Version != 4 {
		t.Fatalf("record after the batches: %+v", s)
	}
}
