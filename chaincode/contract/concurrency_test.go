package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/shiptrace/shiptrace/chaincode/shimfake"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestBatchesOfDifferentSensorsShareABlock: eight loggers of one container
// upload at once. Their batches are endorsed on the same state and meet in
// one block; Fabric's committer (modelled by shimfake.CommitBlock) must find
// no read of one written by another, so all eight commit. Before this layout
// every batch rewrote the shipment record and only the first of a block
// committed.
func TestBatchesOfDifferentSensorsShareABlock(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CONC-1"
	w.inTransit(id)
	const loggers = 8
	// Each logger's first batch registers its sensor in the verdict: those
	// meet on the verdict key, so they go one block each.
	for i := range loggers {
		w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd(fmt.Sprintf("L%d", i), 0, 5)}))
	}
	for round := 1; round <= 3; round++ {
		var block []shimfake.Result
		for i := range loggers {
			batch := []shipment.Reading{rd(fmt.Sprintf("L%d", i), round*10, 5), rd(fmt.Sprintf("L%d", i), round*10+5, 6)}
			block = append(block, w.endorse(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, batch)}}))
		}
		if valid := w.ledger.CommitBlock(block...); slices.Contains(valid, false) {
			t.Fatalf("round %d: validity %v: batches of different sensors conflict", round, valid)
		}
	}
	s := w.shipment(w.ok(carrierMSP, "ReadShipment", id))
	if s.ColdChain.Count != loggers*(1+3*2) || len(s.ColdChain.Sensors) != loggers {
		t.Fatalf("after three blocks: %d readings from %d sensors, want %d from %d", s.ColdChain.Count, len(s.ColdChain.Sensors), loggers*7, loggers)
	}
}

// TestTwoBatchesOfOneSensorConflict: the model can fail. Two batches of
// the same sensor both rewrite its summary from the same state; the second
// in the block must be refused (the gateway runs it again), or one batch's
// effect on the summary would be lost.
func TestTwoBatchesOfOneSensorConflict(t *testing.T) {
	w := newWorld(t)
	id := "SHP-CONC-2"
	w.inTransit(id)
	w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 5)}))
	a := w.endorse(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 10, 5)})}})
	b := w.endorse(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd("S1", 20, 5)})}})
	if valid := w.ledger.CommitBlock(a, b); !slices.Equal(valid, []bool{true, false}) {
		t.Fatalf("validity %v, want the second refused", valid)
	}
}

// TestBreachAnnouncedOnceWhateverTheInterleaving: two sensors breach in
// batches that meet in one block, in either order. Exactly one
// coldchain.breached event is committed; the refused batch, run again,
// records its readings and emits readings.recorded.
func TestBreachAnnouncedOnceWhateverTheInterleaving(t *testing.T) {
	for _, order := range [][2]string{{"S1", "S2"}, {"S2", "S1"}} {
		t.Run(order[0]+"_first", func(t *testing.T) {
			w := newWorld(t)
			id := "SHP-CONC-3"
			w.inTransit(id)
			w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd("S1", 0, 5), rd("S2", 0, 5)}))
			hot := func(sensor string) call {
				return call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{rd(sensor, 10, 9), rd(sensor, 50, 9)})}}
			}
			start := len(w.events())
			valid := w.ledger.CommitBlock(w.endorse(hot(order[0])), w.endorse(hot(order[1])))
			if !slices.Equal(valid, []bool{true, false}) {
				t.Fatalf("validity %v: two first breaches must meet on the verdict key", valid)
			}
			w.ok(carrierMSP, "RecordReadings", id, hot(order[1]).args[1]) // the gateway's retry
			var types []string
			for _, e := range w.events()[start:] {
				types = append(types, e.Name)
			}
			if !slices.Equal(types, []string{string(shipment.EventColdChainBreached), string(shipment.EventReadingsRecorded)}) {
				t.Fatalf("events %v, want one breach then a plain readings event", types)
			}
			s := w.shipment(w.ok(carrierMSP, "ReadShipment", id))
			if s.ColdChain.State != shipment.ColdChainBreached || s.ColdChain.Count != 6 {
				t.Fatalf("cold chain %+v", s.ColdChain)
			}
		})
	}
}

// TestLateReadingReadsItsWindowNotTheHour: on a dense series (a reading
// every 10 ms from four loggers, 200 batches in one hour bucket), a late
// reading reads back a few chunks around its time, and the same number
// whether 20 or 200 batches are stored.
func TestLateReadingReadsItsWindowNotTheHour(t *testing.T) {
	scanned := map[int]int{}
	for _, batches := range []int{20, 200} {
		w := newWorld(t)
		id := fmt.Sprintf("SHP-DENSE-%d", batches)
		w.inTransit(id)
		base := w.now.Add(time.Minute).Truncate(time.Hour).Add(time.Hour) // a fresh hour, after the hand-over
		w.now = base
		var at time.Time
		for b := range batches {
			rs := make([]shipment.Reading, 100)
			for i := range rs {
				at = base.Add(time.Duration(b*100+i) * 10 * time.Millisecond)
				rs[i] = shipment.Reading{SensorID: fmt.Sprintf("L%d", i%4), Time: at, Celsius: 5}
			}
			w.now = at
			w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, rs))
		}
		late := shipment.Reading{SensorID: "L1", Time: base.Add(time.Duration(batches/2*100)*10*time.Millisecond + 5*time.Millisecond), Celsius: 9}
		res := w.invoke(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, []shipment.Reading{late})}})
		if res.Response.GetStatus() != 200 {
			t.Fatal(res.Response.GetMessage())
		}
		scanned[batches] = res.Stub.ScannedKeys
		if s := w.shipment(w.ok(carrierMSP, "ReadShipment", id)); s.ColdChain.LateCount != 1 || s.ColdChain.Count != int64(batches*100+1) {
			t.Fatalf("after the late reading: %+v", s.ColdChain)
		}
	}
	t.Logf("chunks read by one late reading: %v", scanned)
	if scanned[200] != scanned[20] || scanned[20] > 6 {
		t.Fatalf("a late reading read %v chunks: it must read its window, not the hour", scanned)
	}
}

// TestPairedLoggersFirstBatchesShareABlock: loggers paired with the
// shipment beforehand (RegisterSensors) do not meet on the record with
// their first batches, so eight of them commit in one block. Unpaired,
// the same eight first batches register themselves and only the first of
// the block commits: the conflict the pairing removes.
func TestPairedLoggersFirstBatchesShareABlock(t *testing.T) {
	const loggers = 8
	firstBatches := func(w *world, id string) []shimfake.Result {
		var block []shimfake.Result
		for i := range loggers {
			batch := []shipment.Reading{rd(fmt.Sprintf("L%d", i), 0, 5), rd(fmt.Sprintf("L%d", i), 5, 6)}
			block = append(block, w.endorse(call{msp: carrierMSP, fn: "RecordReadings", args: []string{id, readingsJSON(t, batch)}}))
		}
		return block
	}
	sensors := make([]string, loggers)
	for i := range sensors {
		sensors[i] = fmt.Sprintf("L%d", i)
	}

	w := newWorld(t)
	w.inTransit("SHP-PAIR-1")
	if valid := w.ledger.CommitBlock(firstBatches(w, "SHP-PAIR-1")...); slices.Index(valid, false) != 1 || slices.Contains(valid[1:], true) {
		t.Fatalf("unpaired: validity %v, want only the first batch committed", valid)
	}

	w = newWorld(t) // readings from t0 on fall in the carrier's custody
	w.inTransit("SHP-PAIR-2")
	r := w.receipt(w.ok(carrierMSP, "RegisterSensors", "SHP-PAIR-2", `["L7","L6","L5","L4","L3","L2","L1","L0"]`))
	if !slices.Equal(r.Registered, sensors) {
		t.Fatalf("receipt lists %v, want %v", r.Registered, sensors)
	}
	if ev := w.events()[len(w.events())-1]; ev.Name != string(shipment.EventSensorsRegistered) {
		t.Fatalf("last event %s, want %s", ev.Name, shipment.EventSensorsRegistered)
	}
	sensorKey, _ := shim.CreateCompositeKey(sensorObject, []string{"SHP-PAIR-2", "L3"})
	wantPeersPolicy(t, w.ledger.ValidationParameter(sensorKey), 3, carrierMSP, exporterMSP, buyerMSP)
	if valid := w.ledger.CommitBlock(firstBatches(w, "SHP-PAIR-2")...); slices.Contains(valid, false) {
		t.Fatalf("paired: validity %v, want all eight committed", valid)
	}
	s := w.read("SHP-PAIR-2")
	if s.ColdChain.Count != 2*loggers || len(s.ColdChain.Sensors) != loggers || s.Version != r.Version {
		t.Fatalf("after the block: %d readings from %d sensors at version %d; want %d from %d, the record at version %d",
			s.ColdChain.Count, len(s.ColdChain.Sensors), s.Version, 2*loggers, loggers, r.Version)
	}

	again := w.receipt(w.ok(carrierMSP, "RegisterSensors", "SHP-PAIR-2", `["L0"]`))
	if again.Registered != nil || again.Version != r.Version {
		t.Fatalf("pairing L0 again: %+v, want nothing added at version %d", again, r.Version)
	}
}

// TestPairingReplacesAForgedSummary: a summary written under a sensor's
// key before the sensor was registered (which the chaincode-level policy
// lets two colluding members do) is not counted, neither before nor after
// the pairing: pairing starts the sensor's summary afresh.
func TestPairingReplacesAForgedSummary(t *testing.T) {
	w := newWorld(t)
	id := "SHP-PAIR-3"
	w.inTransit(id)
	key, _ := shim.CreateCompositeKey(sensorObject, []string{id, "L9"})
	forged, _ := json.Marshal(storedSensor{SensorSummary: shipment.SensorSummary{ID: "L9", Count: 1000, MinC: 3, MaxC: 4, SumMilliC: 3_500_000}})
	w.ledger.Forge(key, forged)
	if s := w.read(id); s.ColdChain.Count != 0 {
		t.Fatalf("a forged summary of an unregistered sensor counts: %+v", s.ColdChain)
	}
	w.ok(carrierMSP, "RegisterSensors", id, `["L9"]`)
	if s := w.read(id); s.ColdChain.Count != 0 {
		t.Fatalf("after pairing, the forged summary counts: %+v", s.ColdChain)
	}
	w.ok(carrierMSP, "RecordReadings", id, readingsJSON(t, []shipment.Reading{rd("L9", 0, 11), rd("L9", 60, 11)}))
	if s := w.read(id); s.ColdChain.Count != 2 || s.ColdChain.State != shipment.ColdChainBreached {
		t.Fatalf("after two readings at 11 °C: %+v, want 2 readings and BREACHED", s.ColdChain)
	}
}

// TestRegisterSensorsRefusals: what the contract refuses changes nothing.
func TestRegisterSensorsRefusals(t *testing.T) {
	w := newWorld(t)
	id := "SHP-PAIR-4"
	w.inTransit(id)
	w.refused(shipment.Invalid, carrierMSP, "RegisterSensors", id, `{"sensors":["L1"]}`)
	w.refused(shipment.Invalid, carrierMSP, "RegisterSensors", id, `[]`)
	w.refused(shipment.Invalid, carrierMSP, "RegisterSensors", id, `["L1","L1"]`)
	w.refused(shipment.Forbidden, exporterMSP, "RegisterSensors", id, `["L1"]`)
	w.refusedCall(shipment.Forbidden, call{msp: carrierMSP, role: shipment.RoleSensor, fn: "RegisterSensors", args: []string{id, `["L1"]`}})
	w.refused(shipment.NotFound, carrierMSP, "RegisterSensors", "SHP-NOPE", `["L1"]`)
}
