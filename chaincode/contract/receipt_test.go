package contract

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// TestEveryWriteReturnsAReceipt: each shipment write returns
// {shipmentId, status, version, txId} (readings adds its count) and nothing
// of the record; the version goes up by one per write and names the record
// the write left, whose updatedTx is the receipt's transaction.
func TestEveryWriteReturnsAReceipt(t *testing.T) {
	w := newWorld(t)
	id, cancelled, rejected := "SHP-RCPT-1", "SHP-RCPT-2", "SHP-RCPT-3"
	reading := func() string {
		return readingsJSON(t, []shipment.Reading{{SensorID: "S1", Time: w.now.Add(30 * time.Second), Celsius: 5}})
	}
	doc := `{"type":"certificate_of_origin","sha256":"` + strings.Repeat("ab", 32) + `"}`
	steps := []struct {
		c       call
		id      string
		version int64
		status  shipment.Status
	}{
		{call{msp: exporterMSP, fn: "CreateShipment", args: []string{newShipmentJSON(t, id)}}, id, 1, shipment.StatusCreated},
		{call{msp: exporterMSP, fn: "AttachDocument", args: []string{id, doc}}, id, 2, shipment.StatusCreated},
		{call{msp: exporterMSP, fn: "Ship", args: []string{id}}, id, 3, shipment.StatusShipped},
		{call{msp: exporterMSP, fn: "HandOver", args: []string{id, carrierMSP}}, id, 4, shipment.StatusInTransit},
		{call{msp: carrierMSP, fn: "RecordReadings"}, id, 5, shipment.StatusInTransit},
		{call{msp: carrierMSP, fn: "HandOver", args: []string{id, buyerMSP}}, id, 6, shipment.StatusInTransit},
		{call{msp: buyerMSP, fn: "Deliver", args: []string{id}}, id, 7, shipment.StatusDelivered},
		{call{msp: exporterMSP, fn: "CreateShipment", args: []string{newShipmentJSON(t, cancelled)}}, cancelled, 1, shipment.StatusCreated},
		{call{msp: exporterMSP, fn: "Cancel", args: []string{cancelled, "order withdrawn"}}, cancelled, 2, shipment.StatusCancelled},
		{call{msp: exporterMSP, fn: "CreateShipment"}, rejected, 1, shipment.StatusCreated},
		{call{msp: exporterMSP, fn: "Ship", args: []string{rejected}}, rejected, 2, shipment.StatusShipped},
		{call{msp: buyerMSP, fn: "FlagOverdue", args: []string{rejected}}, rejected, 3, shipment.StatusShipped},
		{call{msp: buyerMSP, fn: "Reject", args: []string{rejected, "late"}}, rejected, 4, shipment.StatusRejected},
	}
	for _, st := range steps {
		switch {
		case st.c.fn == "RecordReadings":
			st.c.args = []string{id, reading()}
		case st.id == rejected && st.c.fn == "CreateShipment":
			// Due in 3 minutes, so that FlagOverdue two writes later may.
			st.c.args = []string{newShipmentJSON(t, rejected, func(n *shipment.NewShipment) { n.ExpectedDeliveryAt = w.now.Add(3 * time.Minute) })}
		}
		res := w.invoke(st.c)
		if res.Response.GetStatus() != 200 {
			t.Fatalf("%s: %s", st.c.fn, res.Response.GetMessage())
		}
		payload := string(res.Response.GetPayload())
		want := Receipt{ShipmentID: st.id, Status: st.status, Version: st.version, TxID: res.Stub.GetTxID()}
		if st.c.fn == "RecordReadings" {
			// The first batch of S1 registers it in the record.
			want.Readings, want.UpdatedRecord = 1, true
			want.ColdChain = &ReadingsColdChain{State: shipment.ColdChainOK}
		}
		if got := w.receipt(payload); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s returned %+v, want %+v", st.c.fn, got, want)
		}
		if len(payload) > 200 {
			t.Fatalf("%s returned %d bytes: %s", st.c.fn, len(payload), payload)
		}
		if s := w.read(st.id); s.Version != st.version || s.UpdatedTx != res.Stub.GetTxID() || s.Status != st.status {
			t.Fatalf("after %s the record is version %d by %s, %s; the receipt said version %d by %s", st.c.fn, s.Version, s.UpdatedTx,
				s.Status, st.version, res.Stub.GetTxID())
		}
	}
}
