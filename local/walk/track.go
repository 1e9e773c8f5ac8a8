package walk

import (
	"context"
	"fmt"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// Tracked is a shipment walked to a cold-chain breach for the public
// tracking page: created with a buyer contact, a certificate attached,
// shipped, handed to the carrier, a breaching batch uploaded; Token is the
// Track button's token from the buyer's "shipped" message.
type Tracked struct {
	ID      string
	Contact shipment.Contact
	Steps   map[string]*Receipt // create, document, ship, handover, breach
	Token   string
}

// TrackedBreach walks a fresh shipment to a breach and waits (within a
// minute and a half) for the stand-in to receive the buyer's message with
// its tracking link.
func (s *System) TrackedBreach(ctx context.Context, c *Client, prefix string) (*Tracked, error) {
	tr := &Tracked{ID: NewID(prefix), Steps: map[string]*Receipt{},
		Contact: shipment.Contact{Phone: NewPhone("+49152"), Name: "Greta " + NewID("Privat"), Language: "de", Consent: true}}
	writes := []struct {
		name, member, action string
		body                 func() any // at the time of the write: readings must follow the hand-over
	}{
		{"document", "exporter", "documents", func() any { return Certificate(tr.ID) }},
		{"ship", "exporter", "ship", func() any { return nil }},
		{"handover", "exporter", "handover", func() any { return map[string]string{"toMSP": "CarrierMSP"} }},
		{"breach", "carrier", "readings", func() any { return map[string]any{"readings": Breaching(time.Now())} }},
	}
	rc, err := c.Create(ctx, NewShipment(tr.ID, &tr.Contact), NewID("create"))
	if err != nil {
		return nil, fmt.Errorf("%s: create: %w", tr.ID, err)
	}
	tr.Steps["create"] = rc
	for _, w := range writes {
		if tr.Steps[w.name], err = c.Act(ctx, w.member, tr.ID, w.action, w.body(), NewID(w.name)); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", tr.ID, w.name, err)
		}
	}
	if cc := tr.Steps["breach"].Result.ColdChain; cc == nil || cc.State != shipment.ColdChainBreached {
		return nil, fmt.Errorf("%s: the batch did not breach: %+v", tr.ID, tr.Steps["breach"].Result)
	}
	err = Eventually(ctx, 90*time.Second, 500*time.Millisecond, func() error {
		msgs, err := Messages(ctx, s.StandinURL)
		if err != nil {
			return err
		}
		for _, m := range About(msgs, tr.ID) {
			if SameTemplate(m.Template, "shipment_shipped") && len(m.TrackTokens) == 1 {
				tr.Token = m.TrackTokens[0]
				return nil
			}
		}
		return fmt.Errorf("no shipped message with a Track token for %s yet", tr.ID)
	})
	return tr, err
}
