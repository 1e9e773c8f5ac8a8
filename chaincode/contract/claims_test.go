package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/shipment"
)

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// claimJSON is a new claim with the digests of a buyer's words and photo.
func claimJSON(t testing.TB, id string, cat shipment.ClaimCategory) string {
	t.Helper()
	b, err := json.Marshal(shipment.NewClaim{ID: id, Category: cat, WordsSHA256: digest("the box was wet and the lid broken"),
		PhotoSHA256s: []string{digest("jpeg bytes")}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (w *world) claims(msp, id string) []shipment.Claim {
	w.t.Helper()
	var out []shipment.Claim
	if err := json.Unmarshal([]byte(w.ok(msp, "Claims", id)), &out); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// TestOpenClaimOnTheLedger: the exporter's notifier records a claim on a
// delivered shipment; it is stored beside the record (which keeps its
// version), emitted as shipment.claim_opened with the digests and no text,
// and every member reads it back with the transaction's time.
func TestOpenClaimOnTheLedger(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CLAIM-1"
	w.inTransit(id)
	w.ok(carrierMSP, "HandOver", id, buyerMSP)
	w.ok(buyerMSP, "Deliver", id)
	before := w.read(id)
	events := len(w.events())

	res := w.invoke(call{msp: exporterMSP, role: shipment.RoleNotifier, fn: "OpenClaim", args: []string{id, claimJSON(t, "CLM-7K2Q9ZP4", shipment.ClaimDamaged)}})
	if res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	r := w.receipt(string(res.Response.GetPayload()))
	if r.ClaimID != "CLM-7K2Q9ZP4" || r.TxID != res.Stub.GetTxID() || r.Duplicate {
		t.Fatalf("receipt = %+v", r)
	}
	if after := w.read(id); after.Version != before.Version {
		t.Fatalf("the claim rewrote the shipment record: version %d -> %d", before.Version, after.Version)
	}
	evs := w.events()[events:]
	if len(evs) != 1 || evs[0].Name != string(shipment.EventClaimOpened) {
		t.Fatalf("events = %+v, want one shipment.claim_opened", evs)
	}
	ev := decodeEvent(t, evs[0].Payload)
	if ev.Claim == nil || ev.Claim.ID != "CLM-7K2Q9ZP4" || ev.Claim.WordsSHA256 != digest("the box was wet and the lid broken") ||
		ev.ShipmentID != id || ev.By != exporterMSP || ev.BuyerRef != before.BuyerRef {
		t.Fatalf("event = %+v, claim %+v", ev, ev.Claim)
	}
	if strings.Contains(string(evs[0].Payload), "wet") {
		t.Fatal("the event carries the buyer's words")
	}
	for _, msp := range []string{exporterMSP, carrierMSP, buyerMSP} {
		cl := w.claims(msp, id)
		if len(cl) != 1 || cl[0].ID != "CLM-7K2Q9ZP4" || cl[0].Category != shipment.ClaimDamaged || !cl[0].OpenedAt.Equal(ev.Time) ||
			cl[0].TxID != res.Stub.GetTxID() || len(cl[0].PhotoSHA256s) != 1 || cl[0].OpenedBy != exporterMSP {
			t.Fatalf("claims read by %s = %+v", msp, cl)
		}
	}
	key, _ := res.Stub.CreateCompositeKey(claimObject, []string{id, "CLM-7K2Q9ZP4"})
	if w.ledger.ValidationParameter(key) == nil {
		t.Fatal("the claim key has no key-level endorsement policy")
	}
}

// TestOpenClaimRetryIsANoOp: a notifier that crashed after submitting
// submits the same claim again; the contract returns the first
// transaction's receipt as a duplicate, writes nothing and emits nothing.
// The same ID with other content is refused.
func TestOpenClaimRetryIsANoOp(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CLAIM-2"
	w.inTransit(id)
	first := w.receipt(w.ok(exporterMSP, "OpenClaim", id, claimJSON(t, "CLM-RETRY1", shipment.ClaimLate)))
	snap, events := w.snapshot(), len(w.events())
	res := w.invoke(call{msp: exporterMSP, role: shipment.RoleNotifier, fn: "OpenClaim", args: []string{id, claimJSON(t, "CLM-RETRY1", shipment.ClaimLate)}})
	if res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	again := w.receipt(string(res.Response.GetPayload()))
	if !again.Duplicate || again.TxID != first.TxID || again.ClaimID != "CLM-RETRY1" {
		t.Fatalf("retry receipt = %+v, first %+v", again, first)
	}
	if w.snapshot() != snap || len(w.events()) != events || res.Stub.SetEventCalls != 0 {
		t.Fatal("the retry changed the ledger or emitted an event")
	}
	w.refused(shipment.Conflict, exporterMSP, "OpenClaim", id, claimJSON(t, "CLM-RETRY1", shipment.ClaimMissing))
	if n := len(w.claims(carrierMSP, id)); n != 1 {
		t.Fatalf("%d claims, want 1", n)
	}
}

// TestOpenClaimRefusals: only the exporter records claims, only on goods
// that left, only digests; a refusal writes nothing.
func TestOpenClaimRefusals(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CLAIM-3"
	w.inTransit(id)
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, "SHP-CLAIM-4"))
	w.refused(shipment.Forbidden, carrierMSP, "OpenClaim", id, claimJSON(t, "CLM-REFUSE1", shipment.ClaimDamaged))
	w.refused(shipment.Forbidden, buyerMSP, "OpenClaim", id, claimJSON(t, "CLM-REFUSE1", shipment.ClaimDamaged))
	w.refusedCall(shipment.Forbidden, call{msp: exporterMSP, role: shipment.RoleAuditor, fn: "OpenClaim", args: []string{id, claimJSON(t, "CLM-REFUSE1", shipment.ClaimDamaged)}})
	w.refused(shipment.Conflict, exporterMSP, "OpenClaim", "SHP-CLAIM-4", claimJSON(t, "CLM-REFUSE1", shipment.ClaimDamaged))
	w.refused(shipment.NotFound, exporterMSP, "OpenClaim", "SHP-NOWHERE", claimJSON(t, "CLM-REFUSE1", shipment.ClaimDamaged))
	msg := w.refused(shipment.Invalid, exporterMSP, "OpenClaim", id,
		`{"id":"CLM-REFUSE1","category":"damaged","wordsSha256":"`+digest("x")+`","words":"the box was wet"}`)
	if strings.Contains(msg, "wet") {
		t.Fatalf("refusal %q echoes the text", msg)
	}
	w.refused(shipment.Invalid, exporterMSP, "OpenClaim", id, `{"id":"CLM-REFUSE1","category":"refund","wordsSha256":"`+digest("x")+`"}`)
	if len(w.claims(exporterMSP, id)) != 0 {
		t.Fatal("a refused claim was written")
	}
	if got := w.ok(carrierMSP, "Claims", "SHP-CLAIM-4"); got != "[]" {
		t.Fatalf("no claims = %s, want []", got)
	}
	w.refused(shipment.NotFound, carrierMSP, "Claims", "SHP-NOWHERE")
}
