package web

import (
	"slices"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// TestTimelineNamesEachChange builds the steps from versions of a record,
// newest first as the contract pages them.
func TestTimelineNamesEachChange(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	v := shipment.Shipment{ID: "S", Exporter: "E", Buyer: "B", Custodian: "E", Status: shipment.StatusCreated}
	var versions []shipment.Shipment
	change := func(f func(*shipment.Shipment)) {
		f(&v)
		v.Version++
		versions = append(versions, v)
	}
	change(func(*shipment.Shipment) {})
	change(func(s *shipment.Shipment) { s.Documents = []shipment.Document{{Type: "certificate_of_origin"}} })
	change(func(s *shipment.Shipment) { s.Status = shipment.StatusShipped })
	change(func(s *shipment.Shipment) { s.Custodian, s.Status = "C", shipment.StatusInTransit })
	change(func(s *shipment.Shipment) { s.ColdChainVerdict.Sensors = []string{"l1"} })
	change(func(s *shipment.Shipment) { s.ColdChainVerdict.BreachedAt = at.Add(time.Hour) })
	change(func(s *shipment.Shipment) { s.Overdue = true })
	change(func(s *shipment.Shipment) { s.Custodian = "B" })
	change(func(s *shipment.Shipment) { s.Status = shipment.StatusDelivered })
	var newestFirst []shipment.HistoryEntry
	for i := len(versions) - 1; i >= 0; i-- {
		newestFirst = append(newestFirst, shipment.HistoryEntry{TxID: string(rune('a' + i)), Time: at.Add(time.Duration(i) * time.Minute), Shipment: &versions[i]})
	}
	kinds := func(steps []Step) []string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Kind)
		}
		return out
	}
	all := timeline(newestFirst, false)
	want := []string{"created", "document", "shipped", "handover", "sensor", "breached", "overdue", "handover", "delivered"}
	if got := kinds(all); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if h := all[3]; h.From != "E" || h.To != "C" || h.Proof.TxID != "d" {
		t.Errorf("hand-over step %+v", h)
	}
	if b := all[5]; !b.Time.Equal(at.Add(time.Hour)) {
		t.Errorf("breach step at %s, want the breach's own time", b.Time)
	}
	// Only the newest versions read: the oldest of them is the base, not the creation.
	if got := kinds(timeline(newestFirst[:4], true)); !slices.Equal(got, []string{"overdue", "handover", "delivered"}) {
		t.Errorf("truncated history: steps %v", got)
	}
}
