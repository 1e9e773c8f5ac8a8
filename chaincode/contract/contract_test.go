package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/shipment"
)

var rbase = t0.Add(-48 * time.Hour)

func rd(sensor string, minute int, c float64) shipment.Reading {
	return shipment.Reading{SensorID: sensor, Time: rbase.Add(time.Duration(minute) * time.Minute), Celsius: c}
}

func decodeEvent(t *testing.T, payload []byte) shipment.Event {
	t.Helper()
	var ev shipment.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatalf("decode event: %v", err)
	}
	return ev
}

func TestLifecycleByThreeOrganisations(t *testing.T) {
	w := newWorld(t)
	id := "SHP-LIFE-1"
	if r := w.receipt(w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id))); r.ShipmentID != id || r.Status != shipment.StatusCreated || r.Version != 1 {
		t.Fatalf("create receipt = %+v", r)
	}
	createdAt := w.now
	s := w.read(id)
	if s.Exporter != exporterMSP || s.Custodian != exporterMSP || s.Status != shipment.StatusCreated || !s.CreatedAt.Equal(createdAt) {
		t.Fatalf("created = %+v", s)
	}
	w.ok(exporterMSP, "AttachDocument", id, `{"type":"certificate_of_origin","sha256":"`+strings.Repeat("ab", 32)+`"}`)
	w.ok(exporterMSP, "Ship", id)
	w.ok(exporterMSP, "HandOver", id, carrierMSP)
	w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 4), rd("S1", 10, 5)}))
	w.ok(carrierMSP, "HandOver", id, buyerMSP)
	w.now = t0.Add(10*24*time.Hour + time.Hour) // one started day late
	if r := w.receipt(w.ok(buyerMSP, "Deliver", id)); r.Status != shipment.StatusDelivered || r.Version != 7 {
		t.Fatalf("deliver receipt = %+v", r)
	}
	s = w.read(id)
	if s.Status != shipment.StatusDelivered || s.Settlement == nil || s.Settlement.RefundMinor != 10_000 || s.Settlement.ReleaseMinor != 990_000 {
		t.Fatalf("delivered = %+v, settlement %+v", s, s.Settlement)
	}

	var types []string
	for _, ev := range w.events() {
		types = append(types, ev.Name)
		if p := decodeEvent(t, ev.Payload); string(p.Type) != ev.Name || p.ShipmentID != id || p.Version != 1 {
			t.Fatalf("event %s payload %+v", ev.Name, p)
		}
	}
	want := []string{"shipment.created", "shipment.document_attached", "shipment.shipped", "shipment.custody_transferred",
		"readings.recorded", "shipment.custody_transferred", "shipment.delivered"}
	if !slices.Equal(types, want) {
		t.Fatalf("events = %v, want %v", types, want)
	}
	last := decodeEvent(t, w.events()[6].Payload)
	if last.Settlement == nil || last.Settlement.RefundMinor != 10_000 || last.BuyerRef != "PO-"+id || last.Destination != "Hamburg, DE" {
		t.Fatalf("delivered event = %+v", last)
	}

	var hist HistoryPage
	if err := json.Unmarshal([]byte(w.ok(carrierMSP, "ShipmentHistory", id, "10", "")), &hist); err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, h := range hist.Items {
		who = append(who, fmt.Sprintf("%d:%s:%s", h.Shipment.Version, h.MSPID, h.Shipment.Status))
	}
	wantWho := []string{"7:RetailerMSP:DELIVERED", "6:CarrierMSP:IN_TRANSIT", "5:CarrierMSP:IN_TRANSIT", "4:ExporterMSP:IN_TRANSIT",
		"3:ExporterMSP:SHIPPED", "2:ExporterMSP:CREATED", "1:ExporterMSP:CREATED"}
	if !slices.Equal(who, wantWho) || hist.Bookmark != "" {
		t.Fatalf("history = %v (bookmark %q), want %v, newest first, on one page", who, hist.Bookmark, wantWho)
	}
	if h := hist.Items; h[6].TxID == "" || h[6].Time.IsZero() || !h[6].Time.Before(h[0].Time) {
		t.Fatalf("history entries lack tx or time: %+v", h[6])
	}
}

func TestEveryStateChangeSetsExactlyOneEvent(t *testing.T) {
	w := newWorld(t)
	id := "SHP-EV-1"
	steps := []call{
		{msp: exporterMSP, fn: "CreateShipment", args: []string{newShipmentJSON(t, id)}},
		{msp: exporterMSP, fn: "Ship", args: []string{id}},
		{msp: exporterMSP, fn: "HandOver", args: []string{id, carrierMSP}},
		{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 9)})}},
		{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 40, 9)})}},
		{msp: buyerMSP, fn: "Reject", args: []string{id, "cold chain breached"}},
	}
	wantTypes := []string{"shipment.created", "shipment.shipped", "shipment.custody_transferred", "readings.recorded", "coldchain.breached", "shipment.rejected"}
	for i, c := range steps {
		res := w.invoke(c)
		if res.Response.GetStatus() != 200 {
			t.Fatalf("%s: %s", c.fn, res.Response.GetMessage())
		}
		if res.Stub.SetEventCalls != 1 || res.Event == nil || res.Event.Name != wantTypes[i] {
			t.Fatalf("%s set %d events, last %+v; want one %s", c.fn, res.Stub.SetEventCalls, res.Event, wantTypes[i])
		}
	}
	rejected := decodeEvent(t, w.events()[5].Payload)
	if rejected.Settlement.Outcome != shipment.OutcomeFullRefund || rejected.ColdChain.State != shipment.ColdChainBreached || rejected.Reason != "cold chain breached" {
		t.Fatalf("rejected event = %+v", rejected)
	}
	for _, c := range []call{{fn: "ReadShipment", args: []string{id}}, {fn: "ShipmentHistory", args: []string{id, "10", ""}}} {
		c.msp = carrierMSP
		if res := w.invoke(c); res.Response.GetStatus() != 200 || res.Stub.SetEventCalls != 0 || len(res.Writes) != 0 {
			t.Fatalf("%s failed (%s), wrote or set an event", c.fn, res.Response.GetMessage())
		}
	}
}

// TestUnauthorisedCallsAreRefusedAndWriteNothing tries each operation with
// an organisation that holds no right to it.
func TestUnauthorisedCallsAreRefusedAndWriteNothing(t *testing.T) {
	w := newWorld(t)
	id := "SHP-AUTH-1"
	w.inTransit(id)
	doc := `{"type":"other","sha256":"` + strings.Repeat("cd", 32) + `"}`
	batch := readingsJSON(t, []shipment.Reading{rd("S1", 0, 5)})
	tests := []struct {
		name string
		c    call
	}{
		{"carrier ships", call{msp: carrierMSP, fn: "Ship", args: []string{id}}},
		{"exporter hands over what the carrier holds", call{msp: exporterMSP, fn: "HandOver", args: []string{id, buyerMSP}}},
		{"buyer uploads readings", call{msp: buyerMSP, fn: "RecordReadings", args: []string{id, batch}}},
		{"exporter uploads readings while the carrier holds the goods", call{msp: exporterMSP, fn: "RecordReadings", args: []string{id, batch}}},
		{"carrier confirms delivery", call{msp: carrierMSP, fn: "Deliver", args: []string{id}}},
		{"exporter rejects", call{msp: exporterMSP, fn: "Reject", args: []string{id, "no"}}},
		{"buyer cancels", call{msp: buyerMSP, fn: "Cancel", args: []string{id, "no"}}},
		{"outsider attaches a document", call{msp: "OtherMSP", fn: "AttachDocument", args: []string{id, doc}}},
		{"carrier reads the buyer contact", call{msp: carrierMSP, fn: "BuyerContact", args: []string{id}}},
		{"buyer erases the buyer contact", call{msp: buyerMSP, fn: "DeleteBuyerContact", args: []string{id}}},
		{"carrier sets the buyer contact", call{msp: carrierMSP, fn: "SetBuyerContact", args: []string{id}}},
		{"auditor hands over", call{msp: carrierMSP, role: shipment.RoleAuditor, fn: "HandOver", args: []string{id, buyerMSP}}},
		{"carrier's sensor hands over", call{msp: carrierMSP, role: shipment.RoleSensor, fn: "HandOver", args: []string{id, buyerMSP}}},
		{"exporter operator erases the buyer contact", call{msp: exporterMSP, role: shipment.RoleExporterOperator, fn: "DeleteBuyerContact", args: []string{id}}},
		{"unknown role uploads readings", call{msp: carrierMSP, role: "intern", fn: "RecordReadings", args: []string{id, batch}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := w.refusedCall(shipment.Forbidden, tt.c)
			if !strings.Contains(msg, tt.c.msp) {
				t.Fatalf("refusal %q does not name the caller", msg)
			}
		})
	}
	// The auditor role still reads.
	if res := w.invoke(call{msp: carrierMSP, role: shipment.RoleAuditor, fn: "ReadShipment", args: []string{id}}); res.Response.GetStatus() != 200 {
		t.Fatalf("auditor read: %s", res.Response.GetMessage())
	}
}

func TestRefusals(t *testing.T) {
	w := newWorld(t)
	w.inTransit("SHP-REF-1")
	w.refused(shipment.Conflict, exporterMSP, "CreateShipment", newShipmentJSON(t, "SHP-REF-1"))
	w.refused(shipment.Invalid, exporterMSP, "CreateShipment", `{"id":"SHP-REF-2","colour":"red"}`)
	w.refused(shipment.Invalid, exporterMSP, "CreateShipment", newShipmentJSON(t, "SHP-REF-3", func(n *shipment.NewShipment) { n.Destination.Country = "XX" }))
	w.refused(shipment.NotFound, carrierMSP, "ReadShipment", "SHP-NONE")
	w.refused(shipment.Invalid, carrierMSP, "ReadShipment", "bad id!")
	w.refused(shipment.Conflict, exporterMSP, "Ship", "SHP-REF-1")
	w.refused(shipment.Conflict, exporterMSP, "Cancel", "SHP-REF-1", "too late")
	w.refused(shipment.Conflict, carrierMSP, "FlagOverdue", "SHP-REF-1")
	w.refused(shipment.Invalid, carrierMSP, "RecordReadings", "SHP-REF-1", `[{"sensorId":"S1","time":"2026-11-23T10:00:00Z","celsius":500}]`)
	w.refused(shipment.Invalid, carrierMSP, "ListShipments", "{}", "0", "")
	w.refused(shipment.Invalid, carrierMSP, "ListShipments", `{"status":"LOST"}`, "10", "")
	w.refused(shipment.Invalid, carrierMSP, "Readings", "SHP-REF-1", "yesterday", "", "10", "")
	w.refused(shipment.Invalid, carrierMSP, "Readings", "SHP-REF-1", "", "", "10", "not-a-bookmark")
	msg := w.refusedCall(shipment.Invalid, call{msp: exporterMSP, fn: "CreateShipment", args: []string{newShipmentJSON(t, "SHP-REF-4")},
		transient: map[string][]byte{TransientContact: []byte(`{"phone":"+4915123456789"}`)}})
	if strings.Contains(msg, "+49") {
		t.Fatalf("refusal echoes the contact: %q", msg)
	}
}

// TestKeyLevelEndorsementFollowsCustody: the shipment key needs the peers
// (never mere members) of every party: exporter and buyer always, and the
// carrier while it holds the goods. Every sensor summary (from the batch
// that registers it in the record) carries the same policy and follows
// custody with it: the summaries decide the breach.
func TestKeyLevelEndorsementFollowsCustody(t *testing.T) {
	w := newWorld(t)
	id := "SHP-SBE-1"
	key, _ := shim.CreateCompositeKey(shipmentObject, []string{id})
	sensor, _ := shim.CreateCompositeKey(sensorObject, []string{id, "S1"})
	w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	wantPeersPolicy(t, w.ledger.ValidationParameter(key), 2, buyerMSP, exporterMSP)
	w.ok(exporterMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 5)}))
	wantPeersPolicy(t, w.ledger.ValidationParameter(sensor), 2, buyerMSP, exporterMSP)
	w.ok(exporterMSP, "Ship", id)
	w.ok(exporterMSP, "HandOver", id, carrierMSP)
	for _, k := range []string{key, sensor} {
		wantPeersPolicy(t, w.ledger.ValidationParameter(k), 3, carrierMSP, exporterMSP, buyerMSP)
	}
	w.ok(carrierMSP, "HandOver", id, buyerMSP)
	for _, k := range []string{key, sensor} {
		wantPeersPolicy(t, w.ledger.ValidationParameter(k), 2, exporterMSP, buyerMSP)
	}
}

// wantPeersPolicy decodes a key-level policy and checks it is n-of the
// peers of exactly orgs.
func wantPeersPolicy(t *testing.T, raw []byte, n int, orgs ...string) {
	t.Helper()
	var env common.SignaturePolicyEnvelope
	if err := proto.Unmarshal(raw, &env); err != nil {
		t.Fatalf("decode policy: %v", err)
	}
	var got []string
	for _, id := range env.GetIdentities() {
		var role mspproto.MSPRole
		if err := proto.Unmarshal(id.GetPrincipal(), &role); err != nil || id.GetPrincipalClassification() != mspproto.MSPPrincipal_ROLE {
			t.Fatalf("principal %v is not a role (%v)", id, err)
		}
		if role.GetRole() != mspproto.MSPRole_PEER {
			t.Fatalf("principal %s.%s: want peer", role.GetMspIdentifier(), role.GetRole())
		}
		got = append(got, role.GetMspIdentifier())
	}
	slices.Sort(got)
	slices.Sort(orgs)
	if !slices.Equal(got, orgs) || int(env.GetRule().GetNOutOf().GetN()) != n || len(env.GetRule().GetNOutOf().GetRules()) != len(orgs) {
		t.Fatalf("policy = %d of %v peers, want %d of %v", env.GetRule().GetNOutOf().GetN(), got, n, orgs)
	}
}

func TestReadingsPagesInTimeOrderAcrossOverlappingBatches(t *testing.T) {
	w := newWorld(t)
	id := "SHP-RD-1"
	w.inTransit(id)
	var all []shipment.Reading
	// Three sensors, batches that overlap in time, cross hour buckets and
	// arrive out of order.
	for b := range 12 {
		var batch []shipment.Reading
		for i := range 40 {
			m := (b%4)*50 + i*7 - (b/4)*13
			batch = append(batch, rd(fmt.Sprintf("S%d", b%3), m+600, 5+float64(i%3)))
		}
		all = append(all, batch...)
		w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, batch))
	}
	want := slices.Clone(all)
	slices.SortStableFunc(want, func(a, b shipment.Reading) int { return a.Time.Compare(b.Time) })

	for _, size := range []int{1, 7, 100, 1000} {
		var got []shipment.Reading
		bookmark := ""
		for pages := 0; ; pages++ {
			var p ReadingPage
			if err := json.Unmarshal([]byte(w.ok(buyerMSP, "Readings", id, "", "", fmt.Sprint(size), bookmark)), &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Items) > size {
				t.Fatalf("page of %d items for size %d", len(p.Items), size)
			}
			got = append(got, p.Items...)
			if bookmark = p.Bookmark; bookmark == "" {
				break
			}
			if pages > len(all) {
				t.Fatal("pagination does not end")
			}
		}
		if len(got) != len(want) {
			t.Fatalf("size %d: %d readings, want %d", size, len(got), len(want))
		}
		for i := range got {
			if !got[i].Time.Equal(want[i].Time) || (i > 0 && got[i].Time.Before(got[i-1].Time)) {
				t.Fatalf("size %d: reading %d at %s, want %s", size, i, got[i].Time, want[i].Time)
			}
		}
		if !sameMultiset(got, all) {
			t.Fatalf("size %d: readings differ from what was recorded", size)
		}
	}

	from, to := rbase.Add(700*time.Minute), rbase.Add(760*time.Minute)
	var p ReadingPage
	if err := json.Unmarshal([]byte(w.ok(buyerMSP, "Readings", id, from.Format(time.RFC3339), to.Format(time.RFC3339), "1000", "")), &p); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range all {
		if !r.Time.Before(from) && !r.Time.After(to) {
			n++
		}
	}
	if len(p.Items) != n || p.Bookmark != "" {
		t.Fatalf("range read: %d items (bookmark %q), want %d", len(p.Items), p.Bookmark, n)
	}
	for _, r := range p.Items {
		if r.Time.Before(from) || r.Time.After(to) {
			t.Fatalf("range read returned %s", r.Time)
		}
	}
}

func sameMultiset(a, b []shipment.Reading) bool {
	key := func(r shipment.Reading) string {
		return fmt.Sprintf("%s|%d|%g", r.SensorID, r.Time.UnixMilli(), r.Celsius)
	}
	count := map[string]int{}
	for _, r := range a {
		count[key(r)]++
	}
	for _, r := range b {
		count[key(r)]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

func TestSameBatchTwiceIsRecordedOnce(t *testing.T) {
	w := newWorld(t)
	id := "SHP-IDEM-1"
	w.inTransit(id)
	batch := readingsJSON(t, []shipment.Reading{rd("S1", 0, 5), rd("S1", 90, 6)})
	first := w.receipt(w.ok(carrierMSP, "RecordReadings", id, batch))
	res := w.invoke(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, batch}})
	if res.Response.GetStatus() != 200 || len(res.Writes) != 0 || res.Event != nil {
		t.Fatalf("retry: status %d, writes %v, event %v", res.Response.GetStatus(), res.Writes, res.Event)
	}
	again := w.receipt(string(res.Response.GetPayload()))
	if first.Duplicate || !again.Duplicate || again.Version != first.Version || again.Readings != 2 || again.TxID != res.Stub.GetTxID() {
		t.Fatalf("first %+v, retry %+v: want the retry marked duplicate at the same version", first, again)
	}
	if n := w.read(id).ColdChain.Count; n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
}

func TestLateReadingsAreEvaluatedFromStoredHistory(t *testing.T) {
	w := newWorld(t)
	id := "SHP-LATE-1"
	w.inTransit(id)
	w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd("S1", 120, 5)}))
	res := w.invoke(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 9), rd("S1", 40, 9)})}})
	if res.Event == nil || res.Event.Name != string(shipment.EventColdChainBreached) {
		t.Fatalf("late excursion: event %+v", res.Event)
	}
	s := w.read(id)
	if s.ColdChain.LateCount != 2 || !s.ColdChain.BreachedAt.Equal(rbase.Add(40*time.Minute)) {
		t.Fatalf("cold chain = %+v", s.ColdChain)
	}
}

func TestListShipmentsFiltersAndPages(t *testing.T) {
	w := newWorld(t)
	buyers := []string{buyerMSP, "Retailer2MSP"}
	want := map[string][]string{}
	for i := range 23 {
		id := fmt.Sprintf("SHP-L-%03d", i)
		b := buyers[i%2]
		w.ok(exporterMSP, "CreateShipment", newShipmentJSON(t, id, func(n *shipment.NewShipment) { n.Buyer = b }))
		status := "CREATED"
		if i%3 == 0 {
			w.ok(exporterMSP, "Ship", id)
			status = "SHIPPED"
		}
		want["all"] = append(want["all"], id)
		want["buyer="+b] = append(want["buyer="+b], id)
		want["status="+status] = append(want["status="+status], id)
		want["buyer="+b+",status="+status] = append(want["buyer="+b+",status="+status], id)
		want["exporter,buyer="+b] = append(want["exporter,buyer="+b], id)
	}
	tests := []struct{ name, filter, key string }{
		{"no filter", `{}`, "all"},
		{"empty filter", ``, "all"},
		{"by status", `{"status":"SHIPPED"}`, "status=SHIPPED"},
		{"by buyer", `{"buyer":"Retailer2MSP"}`, "buyer=Retailer2MSP"},
		{"by buyer and status", `{"buyer":"RetailerMSP","status":"CREATED"}`, "buyer=RetailerMSP,status=CREATED"},
		{"by exporter and buyer", `{"exporter":"ExporterMSP","buyer":"RetailerMSP"}`, "exporter,buyer=RetailerMSP"},
		{"by carrier", `{"carrier":"CarrierMSP"}`, "all"},
		{"nothing matches", `{"carrier":"NobodyMSP"}`, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			bookmark := ""
			for range 100 {
				var p ShipmentPage
				if err := json.Unmarshal([]byte(w.ok(carrierMSP, "ListShipments", tt.filter, "5", bookmark)), &p); err != nil {
					t.Fatal(err)
				}
				if len(p.Items) > 5 {
					t.Fatalf("page of %d", len(p.Items))
				}
				for _, s := range p.Items {
					got = append(got, s.ID)
				}
				if bookmark = p.Bookmark; bookmark == "" {
					break
				}
			}
			slices.Sort(got)
			exp := slices.Clone(want[tt.key])
			slices.Sort(exp)
			if !slices.Equal(got, exp) {
				t.Fatalf("got %v, want %v", got, exp)
			}
		})
	}
}

func TestIndexesFollowStatusChanges(t *testing.T) {
	w := newWorld(t)
	w.inTransit("SHP-IDX-1")
	w.ok(buyerMSP, "Deliver", "SHP-IDX-1")
	for _, k := range w.ledger.Keys() {
		if strings.Contains(k, "\x00CREATED\x00") || strings.Contains(k, "\x00SHIPPED\x00") || strings.Contains(k, "\x00IN_TRANSIT\x00") {
			t.Fatalf("stale index entry %q", k)
		}
	}
	var p ShipmentPage
	_ = json.Unmarshal([]byte(w.ok(buyerMSP, "ListShipments", `{"status":"DELIVERED","buyer":"RetailerMSP"}`, "10", "")), &p)
	if len(p.Items) != 1 {
		t.Fatalf("delivered list = %+v", p)
	}
}

func TestBuyerContactIsPrivateToTheExporter(t *testing.T) {
	w := newWorld(t)
	id := "SHP-PII-1"
	w.inTransit(id)
	contact := `{"phone":"+4915123456789","name":"Ana Souza","language":"pt_BR","consent":true}`
	transient := map[string][]byte{TransientContact: []byte(contact)}
	if hasContact(t, w.ok(buyerMSP, "ReadShipment", id)) {
		t.Fatal("ReadShipment before SetBuyerContact: hasBuyerContact true")
	}

	res := w.invoke(call{msp: exporterMSP, fn: "SetBuyerContact", args: []string{id}, transient: transient})
	if res.Response.GetStatus() != 200 {
		t.Fatal(res.Response.GetMessage())
	}
	if len(res.Writes) != 0 || !slices.Equal(res.Stub.PrivateWrites(), []string{"_implicit_org_ExporterMSP"}) {
		t.Fatalf("SetBuyerContact wrote public %v, private %v; want only the exporter's implicit collection", res.Writes, res.Stub.PrivateWrites())
	}
	if res.Event == nil || res.Event.Name != "contact.updated" {
		t.Fatalf("event = %+v", res.Event)
	}
	for _, msp := range []string{exporterMSP, carrierMSP, buyerMSP} {
		if !hasContact(t, w.ok(msp, "ReadShipment", id)) {
			t.Fatalf("ReadShipment by %s after SetBuyerContact: hasBuyerContact false", msp)
		}
	}
	got := w.ok(exporterMSP, "BuyerContact", id)
	var c shipment.Contact
	if err := json.Unmarshal([]byte(got), &c); err != nil || c.Phone != "+4915123456789" || c.Language != "pt_BR" || !c.Consent {
		t.Fatalf("BuyerContact = %q (%v)", got, err)
	}
	w.refused(shipment.Forbidden, carrierMSP, "BuyerContact", id)
	w.refused(shipment.Forbidden, buyerMSP, "BuyerContact", id)

	for _, secret := range []string{"+4915123456789", "4915123456789", "Ana Souza"} {
		for _, k := range w.ledger.Keys() {
			if strings.Contains(string(w.ledger.State(k)), secret) {
				t.Fatalf("public state %q holds %q", k, secret)
			}
		}
		for _, ev := range w.events() {
			if strings.Contains(string(ev.Payload), secret) {
				t.Fatalf("event %s holds %q", ev.Name, secret)
			}
		}
	}
	w.refusedCall(shipment.Invalid, call{msp: exporterMSP, fn: "SetBuyerContact", args: []string{id},
		transient: map[string][]byte{TransientContact: []byte(`{"phone":"12","name":"x","language":"es"}`)}})
	w.refused(shipment.Invalid, exporterMSP, "SetBuyerContact", id)

	res = w.invoke(call{msp: exporterMSP, fn: "DeleteBuyerContact", args: []string{id}})
	if res.Response.GetStatus() != 200 || len(res.Writes) != 0 {
		t.Fatalf("DeleteBuyerContact: %s, writes %v", res.Response.GetMessage(), res.Writes)
	}
	if !w.ledger.Purged("_implicit_org_ExporterMSP", contactKey(id)) {
		t.Fatal("contact was not purged")
	}
	w.refused(shipment.NotFound, exporterMSP, "BuyerContact", id)
	w.refused(shipment.NotFound, exporterMSP, "DeleteBuyerContact", id)
	if hasContact(t, w.ok(carrierMSP, "ReadShipment", id)) {
		t.Fatal("ReadShipment after DeleteBuyerContact: hasBuyerContact still true")
	}
}

func hasContact(t *testing.T, record string) bool {
	t.Helper()
	var s shipment.Shipment
	if err := json.Unmarshal([]byte(record), &s); err != nil {
		t.Fatalf("decode record %q: %v", record, err)
	}
	return s.HasBuyerContact
}

// TestEndorsementIsDeterministic runs the same transactions on two ledgers,
// as two endorsing peers would, and compares every written byte.
func TestEndorsementIsDeterministic(t *testing.T) {
	run := func() string {
		w := newWorld(t)
		w.inTransit("SHP-DET-1")
		var batch []shipment.Reading
		for i := range 300 {
			batch = append(batch, rd(fmt.Sprintf("S%d", i%7), (i*37)%500, float64(i%11)))
		}
		w.ok(carrierMSP, "RecordReadings", "SHP-DET-1", readingsJSON(t, batch))
		w.ok(carrierMSP, "RecordReadings", "SHP-DET-1", readingsJSON(t, batch[:50]))
		w.ok(buyerMSP, "Deliver", "SHP-DET-1")
		var events strings.Builder
		for _, e := range w.events() {
			events.Write(e.Payload)
		}
		return w.snapshot() + events.String()
	}
	if a, b := run(), run(); a != b {
		t.Fatal("two runs of the same transactions wrote different bytes")
	}
}

func decodeJSON(t *testing.T, payload string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(payload), v); err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
}
