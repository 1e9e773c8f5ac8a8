package attack

import (
	"context"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// TestSubmitterClockRefused: attack "submitter's clock". The transaction
// time the contract settles on is the channel-header timestamp, which the
// submitter writes and no peer checks. A member builds a proposal with
// fabric-gateway, rewrites that timestamp, signs the altered proposal itself
// and endorses, submits and commits it through its peer. Peers must refuse a
// time far from their own clock, and the record must stay as it was.
func TestSubmitterClockRefused(t *testing.T) {
	l := openLedger(t)
	dueSoon := func(n *shipment.NewShipment) {
		n.ExpectedDeliveryAt = time.Now().UTC().Add(10 * time.Minute).Truncate(time.Second)
	}
	tests := []struct {
		name     string
		due      func(*shipment.NewShipment) // nil: due in 10 days
		handOver bool
		by       string
		fn       string
		dated    time.Duration // claimed transaction time, relative to now
	}{
		{"buyer Deliver dated 30 days ahead claims the maximum late penalty", dueSoon, true, mspRetailer, "Deliver", 30 * 24 * time.Hour},
		{"FlagOverdue dated 30 days ahead on a shipment not yet due", nil, false, mspRetailer, "FlagOverdue", 30 * 24 * time.Hour},
		{"Deliver dated 3 days in the past", dueSoon, true, mspRetailer, "Deliver", -3 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := l.create(t, tc.due)
			l.do(t, mspExporter, "Ship", id)
			if tc.handOver {
				l.do(t, mspExporter, "HandOver", id, mspCarrier)
			}
			before := l.record(t, id)

			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			claimed := time.Now().Add(tc.dated).UTC()
			var a attempt
			a.st, a.err = l.users[tc.by].submitEdited(ctx, datedAt(claimed), tc.fn, id)
			if a.st != nil {
				t.Logf("%s by %s dated %s (clock %+v off) committed in block %d as %s",
					tc.fn, tc.by, claimed.Format(time.RFC3339), tc.dated, a.st.BlockNumber, a.st.Code)
			}
			l.assertRefused(t, tc.fn+" with the submitter's timestamp "+claimed.Format(time.RFC3339), id, before, a)
			if s := l.shipment(t, id); s.Settlement != nil && a.err == nil {
				t.Logf("settlement now on the ledger: %s %s, %d days late, penalty %d bps, refund %d of %d minor units, computed at %s",
					s.Settlement.Kind, s.Settlement.Outcome, s.Settlement.DaysLate, s.Settlement.LatePenaltyBps,
					s.Settlement.RefundMinor, s.Settlement.InvoiceAmountMinor, s.Settlement.ComputedAt.Format(time.RFC3339))
			}
		})
	}
}
