package shipment

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// CustodyPeriod is one stretch of custody: Holder held the goods from Since
// until the Since of the next period (the last period is still open).
type CustodyPeriod struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

// Endorsers lists, sorted, the organisations whose peers must endorse every
// change to s: its exporter and its buyer always, and the custodian while it
// is neither (a carrier holding the goods). So no organisation changes a
// shipment alone, and the party a change costs always endorses it
// (chaincode/README.md, "Trust matrix").
func (s *Shipment) Endorsers() []string {
	orgs := []string{s.Exporter, s.Buyer}
	if !slices.Contains(orgs, s.Custodian) {
		orgs = append(orgs, s.Custodian)
	}
	slices.Sort(orgs)
	return orgs
}

// custodyChain returns the shipment's custody periods. A record written
// before the chain was kept has none; it is then known only that the current
// custodian holds the goods since the last change.
func (s *Shipment) custodyChain() []CustodyPeriod {
	if len(s.Custody) > 0 {
		return s.Custody
	}
	return []CustodyPeriod{{Holder: s.Custodian, Since: s.UpdatedAt}}
}

// passCustody records that to holds the goods from at.
func (s *Shipment) passCustody(to string, at time.Time) {
	if len(s.Custody) == 0 {
		s.Custody = s.custodyChain()
	}
	s.Custodian = to
	s.Custody = append(s.Custody, CustodyPeriod{Holder: to, Since: at.UTC()})
}

// heldBy reports whether msp held the goods at time t, by the custody chain.
// A period includes its start and excludes the next period's start, so a
// reading at the instant of a hand-over belongs to the new custodian.
func (s *Shipment) heldBy(msp string, t time.Time) bool {
	chain := s.custodyChain()
	for i, p := range chain {
		if p.Holder != msp || t.Before(p.Since) {
			continue
		}
		if i+1 == len(chain) || t.Before(chain[i+1].Since) {
			return true
		}
	}
	return false
}

// custodyOf describes msp's custody periods for a refusal.
func (s *Shipment) custodyOf(msp string) string {
	chain := s.custodyChain()
	var parts []string
	for i, p := range chain {
		if p.Holder != msp {
			continue
		}
		until := "now"
		if i+1 < len(chain) {
			until = chain[i+1].Since.Format(time.RFC3339Nano)
		}
		parts = append(parts, p.Since.Format(time.RFC3339Nano)+" until "+until)
	}
	return strings.Join(parts, ", ")
}

// checkReadingsInCustody refuses readings dated outside the recording
// organisation's custody: a custodian vouches for the goods only while it
// holds them, so it cannot place an excursion in another member's custody
// (or before the shipment existed) and breach the shipment on its account.
func (s *Shipment) checkReadingsInCustody(c Caller, batch []Reading) error {
	var p problems
	for i, r := range batch {
		if !s.heldBy(c.MSPID, r.Time) {
			p.addf(fmt.Sprintf("readings[%d].time", i), "%s is outside %s's custody of shipment %s (%s)",
				r.Time.Format(time.RFC3339Nano), c.MSPID, s.ID, s.custodyOf(c.MSPID))
			if len(p) >= 10 {
				p.addf("readings", "further readings not checked")
				break
			}
		}
	}
	return p.err()
}
