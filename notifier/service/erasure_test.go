package service_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
)

func TestContactDeletedErasesTheBuyersDataAndKeepsStatuses(t *testing.T) {
	h := start(t, option{
		standin: wastandin.Config{AutoStatuses: []string{"sent", "delivered", "read"}},
		contacts: map[string]notifier.Contact{
			"SHP-1": {Phone: "+34611223344", Name: "Zoraida", Language: "es", Consent: true},
			"SHP-2": {Phone: "+34655667788", Name: "Eustaquio", Language: "es", Consent: true},
		},
	})
	h.emit(t, event(shipment.EventShipped, "SHP-1"))
	h.emit(t, event(shipment.EventShipped, "SHP-2"))
	h.emit(t, event(shipment.EventColdChainBreached, "SHP-1")) // buyer and ops
	eventually(t, 10*time.Second, "every message read", func() bool {
		ns := append(h.notifications(t, "SHP-1"), h.notifications(t, "SHP-2")...)
		for _, n := range ns {
			if n.Status != notifier.StatusRead {
				return false
			}
		}
		return len(ns) == 4
	})
	h.emit(t, event(shipment.EventContactDeleted, "SHP-1"))
	eventually(t, 5*time.Second, "SHP-1's buyer notifications erased", func() bool {
		for _, n := range h.notifications(t, "SHP-1") {
			got, err := h.svc.Store().Get(n.ID)
			if err != nil || (n.Recipient == notifier.RoleBuyer && got.Phone != "") {
				return false
			}
		}
		return true
	})
	for _, n := range h.notifications(t, "SHP-1") {
		got, _ := h.svc.Store().Get(n.ID)
		if got.Status != notifier.StatusRead {
			t.Errorf("%s: status %s after erasure, want read kept", n.ID, got.Status)
		}
		if n.Recipient == notifier.RoleBuyer && (got.Message.Components != nil || got.WAMID != "" || got.Message.To != "") {
			t.Errorf("%s: erased notification keeps %+v", n.ID, got)
		}
		if n.Recipient == notifier.RoleOps && got.Phone == "" {
			t.Errorf("%s: the operations alert lost its number; only the buyer's data goes", n.ID)
		}
	}
	for _, n := range h.notifications(t, "SHP-2") {
		if got, _ := h.svc.Store().Get(n.ID); got.Phone == "" {
			t.Errorf("another shipment's notification %s was erased", n.ID)
		}
	}
	h.storeFileEventuallyLacks(t, "+34611223344", "34611223344", "611223344", "Zoraida")
}

// storeFileEventuallyLacks waits until none of needles is in the store
// file's bytes, freed pages included.
func (h *harness) storeFileEventuallyLacks(t *testing.T, needles ...string) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(h.storePath)
		if err != nil {
			t.Fatal(err)
		}
		left = left[:0]
		for _, n := range needles {
			if strings.Contains(string(b), n) {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store file still holds %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
