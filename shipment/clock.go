package shipment

import "time"

// DefaultClockTolerance is how far a transaction's time may be from the
// endorsing peer's clock. Fabric lets the submitting client set the
// transaction timestamp and never checks it; the contract settles money on
// it (days late, overdue), so each endorsing peer holds it to its own clock.
// Five minutes is far above what NTP-synchronised hosts drift (milliseconds)
// and far below what settlement counts in (started days).
const DefaultClockTolerance = 5 * time.Minute

// CheckTxTime refuses a transaction whose time tx is further than tolerance
// from the endorsing peer's clock now. Every honest endorser runs it, so a
// client that backdates or postdates a write finds no peer to endorse it.
func CheckTxTime(tx, now time.Time, tolerance time.Duration) error {
	d := tx.Sub(now)
	if d <= tolerance && d >= -tolerance {
		return nil
	}
	dir := "ahead of"
	if d < 0 {
		d, dir = -d, "behind"
	}
	return Errorf(Invalid, "transaction time %s is %s %s this peer's clock (%s); the tolerance is %s: the submitting client's clock must be synchronised (NTP)",
		tx.UTC().Format(time.RFC3339), d.Round(time.Second), dir, now.UTC().Format(time.RFC3339), tolerance)
}

// checkNotBefore refuses a change dated before the shipment's last change:
// the times a shipment records never go backwards, so a later transaction
// cannot rewrite the order of events (a delivery before the hand-over it
// follows, an overdue flag before the shipment existed).
func (s *Shipment) checkNotBefore(op Operation, at time.Time) error {
	if at.Before(s.UpdatedAt) {
		return s.conflictf(op, "transaction time %s is before the shipment's last change at %s; recorded times never go backwards (check the submitting client's clock)",
			at.UTC().Format(time.RFC3339Nano), s.UpdatedAt.Format(time.RFC3339Nano))
	}
	return nil
}
