package service_test

import (
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/service"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestQuietHoursDeferAndTheListingSaysUntilWhen runs the notifier with
// quiet hours around the current Madrid time: a shipped message to a
// Spanish buyer is listed deferred with notBefore at their end and not
// sent; the breach (urgent) goes at once.
func TestQuietHoursDeferAndTheListingSaysUntilWhen(t *testing.T) {
	madrid, _ := time.LoadLocation("Europe/Madrid")
	local := time.Now().In(madrid)
	window := local.Add(-time.Hour).Format("15:04") + "-" + local.Add(2*time.Hour).Format("15:04")
	h := start(t, option{
		args:     []string{"--policy.quiet_hours=" + window},
		standin:  wastandin.Config{AutoStatuses: []string{"sent"}},
		contacts: map[string]notifier.Contact{"SHP-Q": {Phone: "+34600000044", Name: "Ana", Language: "es", Consent: true}},
	})
	h.emit(t, event(shipment.EventShipped, "SHP-Q"))
	h.emit(t, event(shipment.EventColdChainBreached, "SHP-Q"))
	eventually(t, 10*time.Second, "the breach sent", func() bool { return len(h.standin.Accepted()) == 2 }) // buyer and ops
	time.Sleep(200 * time.Millisecond)
	var shipped, breach service.View
	for _, n := range h.notifications(t, "SHP-Q") {
		switch {
		case n.EventType == notifier.EventShipped:
			shipped = n
		case n.Recipient == notifier.RoleBuyer:
			breach = n
		}
	}
	end := time.Date(local.Year(), local.Month(), local.Day(), local.Add(2*time.Hour).Hour(), local.Add(2*time.Hour).Minute(), 0, 0, madrid)
	if end.Before(local) {
		end = end.AddDate(0, 0, 1)
	}
	if shipped.Status != service.StatusDeferred || !shipped.NotBefore.Equal(end) || shipped.Reason != "quiet_hours" {
		t.Errorf("shipped: %s until %v (%s), want deferred until %v (quiet_hours)", shipped.Status, shipped.NotBefore, shipped.Reason, end)
	}
	if breach.Status == service.StatusDeferred || breach.SentAt.IsZero() {
		t.Errorf("breach: %s, want sent at once (urgent)", breach.Status)
	}
	for _, r := range h.standin.Accepted() {
		if r.Template == "shipment_shipped" || r.Template == "shipment_shipped_v2" {
			t.Error("the deferred message was sent in quiet hours")
		}
	}
}
