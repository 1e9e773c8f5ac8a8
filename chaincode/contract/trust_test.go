package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// TestWritesAreHeldToThePeersClock: a write whose transaction time is off
// the endorsing peer's clock by more than the tolerance is refused; a read is
// not (its time decides nothing).
func TestWritesAreHeldToThePeersClock(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CLOCK-1"
	w.inTransit(id)
	w.ok(carrierMSP, "HandOver", id, buyerMSP)
	for _, skew := range []time.Duration{-30 * 24 * time.Hour, -6 * time.Minute, 6 * time.Minute, 30 * 24 * time.Hour} {
		msg := w.refusedCall(shipment.Invalid, call{msp: buyerMSP, fn: "Deliver", args: []string{id}, skew: skew})
		if !strings.Contains(msg, "this peer's clock") {
			t.Fatalf("skew %s: %q", skew, msg)
		}
		w.refusedCall(shipment.Invalid, call{msp: exporterMSP, fn: "FlagOverdue", args: []string{id}, skew: skew})
	}
	if res := w.invoke(call{msp: carrierMSP, fn: "ReadShipment", args: []string{id}, skew: 30 * 24 * time.Hour}); res.Response.GetStatus() != 200 {
		t.Fatalf("a read with a skewed clock: %s", res.Response.GetMessage())
	}
	w.ok(buyerMSP, "Deliver", id)
	if s := w.read(id); s.Settlement.DaysLate != 0 || s.Settlement.RefundMinor != 0 {
		t.Fatalf("on-time delivery settled %+v", s.Settlement)
	}
}

// TestMembershipDecidesWhoMayHoldAShipment: a hand-over, a buyer or a
// carrier that is not a member in that capacity is INVALID and names the MSP.
func TestMembershipDecidesWhoMayHoldAShipment(t *testing.T) {
	w := newWorld(t)
	id := "SHP-MEMBER-1"
	msg := w.refused(shipment.Invalid, exporterMSP, "CreateShipment", newShipmentJSON(t, id, func(n *shipment.NewShipment) { n.Buyer = "RetailerMsp" }))
	if !strings.Contains(msg, "RetailerMsp is not a member") {
		t.Fatalf("unknown buyer: %q", msg)
	}
	msg = w.refused(shipment.Invalid, exporterMSP, "CreateShipment", newShipmentJSON(t, id, func(n *shipment.NewShipment) { n.Carrier = buyer2MSP }))
	if !strings.Contains(msg, "Retailer2MSP is a member as retailer, not as carrier") {
		t.Fatalf("retailer as carrier: %q", msg)
	}
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	w.ok(exporterMSP, "Ship", id)
	for _, to := range []string{"RetailerMsp", buyer2MSP} {
		msg := w.refused(shipment.Invalid, exporterMSP, "HandOver", id, to)
		if !strings.Contains(msg, "toMSP: "+to) {
			t.Fatalf("hand-over to %s: %q", to, msg)
		}
	}
}

// TestReadingsOutsideCustodyAreRefused: the carrier cannot date readings
// into the exporter's custody; its own are kept with the identity that
// recorded them.
func TestReadingsOutsideCustodyAreRefused(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CUSTODY-1"
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	w.ok(exporterMSP, "Ship", id)
	w.now = rbase.Add(2 * time.Hour)
	w.ok(exporterMSP, "HandOver", id, carrierMSP) // custody passes at rbase + 2 h + 1 min
	hot := readingsJSON(t, []shipment.Reading{rd("S1", 0, 20), rd("S1", 60, 20)})
	msg := w.refusedCall(shipment.Invalid, call{msp: carrierMSP, role: shipment.RoleSensor, fn: "RecordReadings", args: []string{id, hot}})
	if !strings.Contains(msg, "outside CarrierMSP's custody") {
		t.Fatalf("%q", msg)
	}
	ok := readingsJSON(t, []shipment.Reading{rd("S1", 130, 5)})
	if res := w.invoke(call{msp: carrierMSP, role: shipment.RoleSensor, fn: "RecordReadings", args: []string{id, ok}}); res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	var page ReadingPage
	if err := json.Unmarshal([]byte(w.ok(buyerMSP, "Readings", id, "", "", "10", "")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].RecordedBy != carrierMSP+"/user1" {
		t.Fatalf("readings = %+v", page.Items)
	}
	w.refused(shipment.Invalid, carrierMSP, "RecordReadings", id, `[{"sensorId":"S1","time":"`+rbase.Add(131*time.Minute).Format(time.RFC3339)+`","celsius":5,"recordedBy":"ExporterMSP/logger-1"}]`)
}

// TestRegistryKeysNeedTheirVotersPeers: the registry needs a majority of
// the members' peers, each approval its own organisation's peer.
func TestRegistryKeysNeedTheirVotersPeers(t *testing.T) {
	w := newWorld(t)
	wantPeersPolicy(t, w.ledger.ValidationParameter(membersKey), 3, voters...)
	wantPeersPolicy(t, w.ledger.ValidationParameter(approvalPrefix+carrierMSP), 1, carrierMSP)
	var reg shipment.Consortium
	if err := json.Unmarshal([]byte(w.ok(carrierMSP, "Members")), &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Sequence != 1 || len(reg.Members.Members) != 4 || len(reg.ApprovedBy) != 4 || reg.UpdatedTx == "" {
		t.Fatalf("registry = %+v", reg)
	}
	w.refusedCall(shipment.Forbidden, call{msp: carrierMSP, role: shipment.RoleGateway, fn: "ApproveMembers", args: []string{testMembers(2)}})
	w.refusedCall(shipment.Conflict, call{msp: carrierMSP, role: shipment.RoleAdmin, fn: "CommitMembers", args: []string{testMembers(2)}})
}
