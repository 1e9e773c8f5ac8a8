package shipment

import "time"

// SettleKind is the event that triggers a settlement.
type SettleKind string

// The events that settle a shipment's terms.
const (
	SettleDelivered SettleKind = "DELIVERED"
	SettleRejected  SettleKind = "REJECTED"
	SettleOverdue   SettleKind = "OVERDUE"
)

// Outcome summarises a settlement for people and finance systems.
type Outcome string

// Settlement outcomes.
const (
	OutcomeRelease           Outcome = "RELEASE"             // everything to the exporter
	OutcomeReleaseLessRefund Outcome = "RELEASE_LESS_REFUND" // late penalty and/or breach refund to the buyer, rest to the exporter
	OutcomeFullRefund        Outcome = "FULL_REFUND"         // everything back to the buyer
	OutcomeHeld              Outcome = "HELD"                // rejected without a breach: the parties resolve it
	OutcomeProvisional       Outcome = "PROVISIONAL"         // overdue: penalty accrued so far, nothing paid yet
)

// Settlement is what the contract decided about the invoice amount. Release,
// refund and held always add up to the invoice amount. All amounts are minor
// units of Currency; all rates are basis points.
type Settlement struct {
	Kind               SettleKind `json:"kind"`
	Outcome            Outcome    `json:"outcome"`
	Final              bool       `json:"final"`
	Currency           string     `json:"currency"`
	InvoiceAmountMinor int64      `json:"invoiceAmountMinor"`
	DaysLate           int64      `json:"daysLate"`
	LatePenaltyBps     int64      `json:"latePenaltyBps"`
	LatePenaltyMinor   int64      `json:"latePenaltyMinor"`
	BreachRefundBps    int64      `json:"breachRefundBps"`
	ReleaseMinor       int64      `json:"releaseMinor"`
	RefundMinor        int64      `json:"refundMinor"`
	HeldMinor          int64      `json:"heldMinor"`
	ComputedAt         time.Time  `json:"computedAt"`
}

const bpsWhole = 10_000

// DaysLate counts the started days between expected and at: one second late
// is one day late. It is zero when at is not after expected.
func DaysLate(expected, at time.Time) int64 {
	if !at.After(expected) {
		return 0
	}
	const day = int64(24 * time.Hour)
	d := int64(at.Sub(expected))
	return (d + day - 1) / day
}

// bpsOf returns floor(amount * bps / 10000). amount is at most MaxAmountMinor
// (1e14) and bps at most 10000, so the product stays below 2^63.
func bpsOf(amount, bps int64) int64 { return amount * bps / bpsWhole }

// Settle computes the settlement of terms (nil: no terms, no settlement) when
// kind happens at time at. Integer arithmetic only:
//
//   - penalty bps = min(daysLate × latePenaltyBpsPerDay, latePenaltyCapBps)
//   - DELIVERED: refund bps = min(10000, penalty bps + breachRefundBps if the
//     cold chain was breached); refund = floor(amount × refund bps / 10000);
//     the rest is released to the exporter.
//   - REJECTED: a breached shipment is refunded in full; otherwise the whole
//     amount is held for the parties to resolve.
//   - OVERDUE: provisional; nothing is paid, the whole amount is held and the
//     penalty accrued so far is reported.
func Settle(terms *Terms, kind SettleKind, expected, at time.Time, breached bool) *Settlement {
	if terms == nil {
		return nil
	}
	amount := terms.InvoiceAmountMinor
	days := DaysLate(expected, at)
	penalty := min(days*terms.LatePenaltyBpsPerDay, terms.LatePenaltyCapBps)
	st := &Settlement{
		Kind:               kind,
		Currency:           terms.Currency,
		InvoiceAmountMinor: amount,
		DaysLate:           days,
		LatePenaltyBps:     penalty,
		LatePenaltyMinor:   bpsOf(amount, penalty),
		ComputedAt:         at.UTC(),
		Final:              kind != SettleOverdue,
	}
	if breached {
		st.BreachRefundBps = terms.BreachRefundBps
	}
	switch kind {
	case SettleDelivered:
		refundBps := min(bpsWhole, penalty+st.BreachRefundBps)
		st.RefundMinor = bpsOf(amount, refundBps)
		st.ReleaseMinor = amount - st.RefundMinor
		switch {
		case st.RefundMinor == 0:
			st.Outcome = OutcomeRelease
		case st.ReleaseMinor == 0:
			st.Outcome = OutcomeFullRefund
		default:
			st.Outcome = OutcomeReleaseLessRefund
		}
	case SettleRejected:
		if breached {
			st.Outcome, st.RefundMinor = OutcomeFullRefund, amount
		} else {
			st.Outcome, st.HeldMinor = OutcomeHeld, amount
		}
	default:
		st.Outcome, st.HeldMinor = OutcomeProvisional, amount
	}
	return st
}
