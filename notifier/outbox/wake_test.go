package outbox_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// TestWakeParkedWakesOnlyThatShipmentsLiveEvents: waking a shipment makes
// its parked, not dead events due now, leaves other shipments' and dead
// letters alone, and a resolved event is no longer found.
func TestWakeParkedWakesOnlyThatShipmentsLiveEvents(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	now := time.Now().UTC()
	later := now.Add(time.Hour)
	park := func(tx, shipmentID string, dead bool) {
		t.Helper()
		p := outbox.Parked{Event: notifier.ChainEvent{Block: 1, TxID: tx}, Shipment: shipmentID, Reason: "contact_not_found_yet",
			FirstAt: now, NextAt: later, Dead: dead}
		if err := st.Park(p); err != nil {
			t.Fatal(err)
		}
	}
	park("t1", "X", false)
	park("t2", "X", false)
	park("t3", "X", true)
	park("t4", "XY", false) // shares a prefix with X, is another shipment
	park("t5", "Y", false)
	if err := st.ResolveParked("t2"); err != nil {
		t.Fatal(err)
	}
	n, err := st.WakeParked("X", now)
	if err != nil || n != 1 {
		t.Fatalf("woke %d (%v), want 1: t1 only", n, err)
	}
	due, err := st.DueParked(now, 10)
	if err != nil || len(due) != 1 || due[0].Event.TxID != "t1" {
		t.Fatalf("due now: %+v (%v), want t1 alone", due, err)
	}
	if n, _ := st.WakeParked("X", now); n != 0 {
		t.Fatalf("waking again woke %d, want 0 (already due)", n)
	}
}
