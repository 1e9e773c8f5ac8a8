package chaincode_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// contactFor returns a buyer contact with values unique to this run, so a
// block scan for them cannot match anything else.
func contactFor(t testing.TB) shipment.Contact {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	return shipment.Contact{
		Phone:    fmt.Sprintf("+49%d", 1_000_000_000+n.Int64()),
		Name:     "Ana " + testnet.UniqueID("Souza"),
		Language: "pt_BR", Consent: true,
	}
}

// setContact submits the contact as the exporter alone: it is transient data
// for the exporter's implicit collection.
func (o *orgs) setContact(t testing.TB, id string, c shipment.Contact) uint64 {
	t.Helper()
	_, block := o.submit(t, exporterMSP, "SetBuyerContact", client.WithArguments(id),
		client.WithTransient(map[string][]byte{transientContact: []byte(mustJSON(t, c))}),
		client.WithEndorsingOrganizations(exporterMSP))
	return block
}

func TestLifecycleByThreeOrganisations(t *testing.T) {
	o := connect(t)
	id := testnet.UniqueID("LIFE")

	_, first := o.submit(t, exporterMSP, "CreateShipment", client.WithArguments(newShipmentJSON(t, id)))
	events := o.listen(t, retailerMSP, first)
	o.setContact(t, id, contactFor(t))
	o.call(t, exporterMSP, "AttachDocument", id, `{"type":"certificate_of_origin","sha256":"`+strings.Repeat("ab", 32)+`"}`)
	o.call(t, exporterMSP, "Ship", id)
	o.call(t, exporterMSP, "HandOver", id, carrierMSP)
	// Readings from the carrier's own custody (they must fall inside it):
	// from the hand-over on, the last one beyond the hard maximum.
	now := time.Now().UTC().Truncate(time.Millisecond)
	readings := []shipment.Reading{
		{SensorID: "logger-1", Time: now, Celsius: 4.5},
		{SensorID: "logger-1", Time: now.Add(time.Minute), Celsius: 9.5},
		{SensorID: "logger-1", Time: now.Add(2 * time.Minute), Celsius: 12.5},
	}
	if r := decode[writeReceipt](t, o.call(t, carrierMSP, "RecordReadings", id, mustJSON(t, readings))); r.Readings != 3 || r.Version != 5 {
		t.Fatalf("readings receipt = %+v", r)
	}
	s := decode[shipment.Shipment](t, o.evaluate(t, carrierMSP, "ReadShipment", id))
	if s.ColdChain.State != shipment.ColdChainBreached || s.ColdChain.Count != 3 {
		t.Fatalf("cold chain after a reading above the hard maximum = %+v", s.ColdChain)
	}
	for _, r := range decode[wirePage[shipment.Reading]](t, o.evaluate(t, retailerMSP, "Readings", id, "", "", "10", "")).Items {
		if !strings.HasPrefix(r.RecordedBy, carrierMSP+"/User1@") {
			t.Fatalf("reading %+v does not name the identity that recorded it", r)
		}
	}
	o.call(t, carrierMSP, "HandOver", id, retailerMSP)
	res := o.call(t, retailerMSP, "Deliver", id)
	if r := decode[writeReceipt](t, res); r.ShipmentID != id || r.Status != shipment.StatusDelivered || r.Version != 7 || r.TxID == "" {
		t.Fatalf("deliver receipt = %s", res)
	}
	s = decode[shipment.Shipment](t, o.evaluate(t, retailerMSP, "ReadShipment", id))
	if s.Status != shipment.StatusDelivered || s.Settlement == nil || s.Settlement.RefundMinor != 250_000 {
		t.Fatalf("delivered = %s, settlement %+v", s.Status, s.Settlement)
	}

	// Every org's peer serves the same record.
	want := o.evaluate(t, exporterMSP, "ReadShipment", id)
	for _, msp := range []string{carrierMSP, retailerMSP} {
		if got := o.evaluate(t, msp, "ReadShipment", id); !bytes.Equal(got, want) {
			t.Fatalf("%s reads %s, exporter reads %s", msp, got, want)
		}
	}

	var hist []historyEntry
	for bookmark := ""; ; {
		page := decode[wirePage[historyEntry]](t, o.evaluate(t, carrierMSP, "ShipmentHistory", id, "3", bookmark))
		hist = append(hist, page.Items...)
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
	}
	var who []string
	for _, h := range hist {
		who = append(who, fmt.Sprintf("%d:%s:%s", h.Shipment.Version, h.MSPID, h.Shipment.Status))
	}
	wantWho := []string{"7:RetailerMSP:DELIVERED", "6:CarrierMSP:IN_TRANSIT", "5:CarrierMSP:IN_TRANSIT", "4:ExporterMSP:IN_TRANSIT",
		"3:ExporterMSP:SHIPPED", "2:ExporterMSP:CREATED", "1:ExporterMSP:CREATED"}
	if !slices.Equal(who, wantWho) {
		t.Fatalf("history in pages of 3 = %v, want %v (newest first)", who, wantWho)
	}
	for i, h := range hist {
		if h.TxID == "" || h.TxID != h.Shipment.UpdatedTx || (i > 0 && h.Time.After(hist[i-1].Time)) {
			t.Fatalf("history entry %d: tx %q at %s", i, h.TxID, h.Time)
		}
	}

	page := decode[wirePage[shipment.Reading]](t, o.evaluate(t, retailerMSP, "Readings", id, "", "", "2", ""))
	if len(page.Items) != 2 || page.Bookmark == "" || !page.Items[0].Time.Equal(readings[0].Time) {
		t.Fatalf("first readings page = %+v", page)
	}
	page = decode[wirePage[shipment.Reading]](t, o.evaluate(t, retailerMSP, "Readings", id, "", "", "2", page.Bookmark))
	if len(page.Items) != 1 || page.Bookmark != "" || !page.Items[0].Time.Equal(readings[2].Time) {
		t.Fatalf("second readings page = %+v", page)
	}

	got := eventsFor(t, events, id, 8)
	var types []string
	for _, e := range got {
		types = append(types, string(e.Type))
	}
	wantTypes := []string{"shipment.created", "contact.updated", "shipment.document_attached", "shipment.shipped",
		"shipment.custody_transferred", "coldchain.breached", "shipment.custody_transferred", "shipment.delivered"}
	if !slices.Equal(types, wantTypes) {
		t.Fatalf("events = %v, want %v", types, wantTypes)
	}
	delivered := got[7]
	if delivered.Settlement == nil || delivered.Settlement.RefundMinor != 250_000 || delivered.BuyerRef != "PO-"+id ||
		delivered.Buyer != retailerMSP || delivered.ColdChain.State != shipment.ColdChainBreached {
		t.Fatalf("delivered event = %+v", delivered)
	}
	if got[4].FromCustodian != exporterMSP || got[4].Custodian != carrierMSP {
		t.Fatalf("custody event = %+v", got[4])
	}
}

func TestUnauthorisedAttemptsAreRefusedByTheLedger(t *testing.T) {
	o := connect(t)
	id := testnet.UniqueID("AUTH")
	o.call(t, exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	o.setContact(t, id, contactFor(t))
	o.call(t, exporterMSP, "Ship", id)
	o.call(t, exporterMSP, "HandOver", id, carrierMSP)
	before := o.evaluate(t, exporterMSP, "ReadShipment", id)
	batch := mustJSON(t, []shipment.Reading{{SensorID: "S1", Time: time.Now().UTC().Truncate(time.Second), Celsius: 5}})

	tests := []struct {
		name     string
		msp      string
		fn       string
		args     []string
		evaluate bool
	}{
		{"carrier ships the exporter's goods", carrierMSP, "Ship", []string{id}, false},
		{"carrier cancels", carrierMSP, "Cancel", []string{id, "no"}, false},
		{"carrier confirms delivery", carrierMSP, "Deliver", []string{id}, false},
		{"retailer uploads readings", retailerMSP, "RecordReadings", []string{id, batch}, false},
		{"retailer takes custody itself", retailerMSP, "HandOver", []string{id, retailerMSP}, false},
		{"exporter uploads readings for the carrier", exporterMSP, "RecordReadings", []string{id, batch}, false},
		{"exporter confirms delivery", exporterMSP, "Deliver", []string{id}, false},
		{"exporter rejects for the buyer", exporterMSP, "Reject", []string{id, "no"}, false},
		{"carrier reads the buyer contact", carrierMSP, "BuyerContact", []string{id}, true},
		{"retailer reads the buyer contact", retailerMSP, "BuyerContact", []string{id}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o.refused(t, shipment.Forbidden, tt.evaluate, tt.msp, tt.fn, client.WithArguments(tt.args...))
		})
	}
	o.refused(t, shipment.Forbidden, false, retailerMSP, "DeleteBuyerContact", client.WithArguments(id), client.WithEndorsingOrganizations(retailerMSP))
	o.refused(t, shipment.Conflict, false, exporterMSP, "Cancel", client.WithArguments(id, "too late"))
	o.refused(t, shipment.Invalid, false, exporterMSP, "CreateShipment", client.WithArguments(`{"id":"x"}`))

	if after := o.evaluate(t, exporterMSP, "ReadShipment", id); !bytes.Equal(after, before) {
		t.Fatalf("refused attempts changed the shipment:\nbefore %s\nafter  %s", before, after)
	}
}

func TestBuyerContactVisibleOnlyToTheExporterAndErasable(t *testing.T) {
	o := connect(t)
	id := testnet.UniqueID("PII")
	o.call(t, exporterMSP, "CreateShipment", newShipmentJSON(t, id))
	c := contactFor(t)
	o.setContact(t, id, c)

	got := decode[shipment.Contact](t, o.evaluate(t, exporterMSP, "BuyerContact", id))
	if got != c {
		t.Fatalf("exporter reads %+v, want %+v", got, c)
	}
	o.refused(t, shipment.Forbidden, true, carrierMSP, "BuyerContact", client.WithArguments(id))
	o.refused(t, shipment.Forbidden, true, retailerMSP, "BuyerContact", client.WithArguments(id))

	o.submit(t, exporterMSP, "DeleteBuyerContact", client.WithArguments(id), client.WithEndorsingOrganizations(exporterMSP))
	o.refused(t, shipment.NotFound, true, exporterMSP, "BuyerContact", client.WithArguments(id))
}

// TestNoContactDataOnTheChannel scans every block from the shipment's
// creation to the contact's erasure for the contact values.
func TestNoContactDataOnTheChannel(t *testing.T) {
	o := connect(t)
	id := testnet.UniqueID("SCAN")
	c := contactFor(t)
	_, first := o.submit(t, exporterMSP, "CreateShipment", client.WithArguments(newShipmentJSON(t, id)))
	o.setContact(t, id, c)
	o.call(t, exporterMSP, "Ship", id)
	_, last := o.submit(t, exporterMSP, "DeleteBuyerContact", client.WithArguments(id), client.WithEndorsingOrganizations(exporterMSP))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	blocks, err := o.networks[exporterMSP].BlockEvents(ctx, client.WithStartBlock(first))
	if err != nil {
		t.Fatalf("block events: %v", err)
	}
	secrets := [][]byte{[]byte(c.Phone), []byte(strings.TrimPrefix(c.Phone, "+")), []byte(c.Name)}
	scanned, sawShipment := 0, false
	for b := range blocks {
		raw, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(raw, s) {
				t.Fatalf("block %d contains contact data %q", b.GetHeader().GetNumber(), s)
			}
		}
		// Control: the scan does see the public record.
		sawShipment = sawShipment || bytes.Contains(raw, []byte("PO-"+id))
		scanned++
		if b.GetHeader().GetNumber() >= last {
			break
		}
	}
	if !sawShipment {
		t.Fatal("the scanned blocks do not even hold the shipment's buyerRef; the scan is blind")
	}
	if scanned < 2 {
		t.Fatalf("scanned %d blocks, want the blocks %d..%d", scanned, first, last)
	}
}

func TestListShipmentsPagesThroughAFilter(t *testing.T) {
	o := connect(t)
	var mine []string
	for range 5 {
		id := testnet.UniqueID("LIST")
		o.call(t, exporterMSP, "CreateShipment", newShipmentJSON(t, id))
		o.call(t, exporterMSP, "Cancel", id, "test data")
		mine = append(mine, id)
	}
	seen := map[string]int{}
	bookmark := ""
	for pages := 0; ; pages++ {
		page := decode[wirePage[shipment.Shipment]](t, o.evaluate(t, carrierMSP, "ListShipments", `{"status":"CANCELLED","exporter":"ExporterMSP"}`, "2", bookmark))
		if len(page.Items) > 2 {
			t.Fatalf("page of %d items, asked for 2", len(page.Items))
		}
		for _, s := range page.Items {
			if s.Status != shipment.StatusCancelled || s.Exporter != exporterMSP {
				t.Fatalf("filter returned %s %s", s.ID, s.Status)
			}
			seen[s.ID]++
		}
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
		if pages > 100_000 {
			t.Fatal("pagination does not end")
		}
	}
	for _, id := range mine {
		if seen[id] != 1 {
			t.Fatalf("%s listed %d times", id, seen[id])
		}
	}
}
