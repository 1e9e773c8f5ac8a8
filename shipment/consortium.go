package shipment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Capacity is what a member may be on a shipment.
type Capacity string

// The capacities a consortium member can hold. A member may hold several
// (a retailer that also runs its own trucks is retailer and carrier).
const (
	CapacityExporter Capacity = "exporter" // creates shipments and is paid for them
	CapacityCarrier  Capacity = "carrier"  // takes custody between exporter and buyer
	CapacityRetailer Capacity = "retailer" // buys: delivery, rejection, settlement
)

// Capacities lists every capacity.
var Capacities = []Capacity{CapacityExporter, CapacityCarrier, CapacityRetailer}

// MaxMembers bounds the registry (and so the key-level policy built from it).
const MaxMembers = 64

// Member is one organisation of the consortium.
type Member struct {
	MSPID      string     `json:"mspId"`
	Name       string     `json:"name"`
	Capacities []Capacity `json:"capacities"`
}

// Members is a proposed or recorded member set. Sequence counts the sets
// the consortium has committed: 1 for the first, each change the next one,
// so an approval of an old set can never be replayed against a later one.
type Members struct {
	Sequence int64    `json:"sequence"`
	Members  []Member `json:"members"`
}

// Consortium is the member registry on the ledger: the committed set and
// the transaction that committed it.
type Consortium struct {
	Members
	ApprovedBy []string  `json:"approvedBy"`
	UpdatedAt  time.Time `json:"updatedAt"`
	UpdatedTx  string    `json:"updatedTx,omitempty"`
}

// Approval is one organisation's vote for a member set, identified by the
// set's sequence and digest.
type Approval struct {
	MSPID    string    `json:"mspId"`
	Sequence int64     `json:"sequence"`
	Digest   string    `json:"digest"`
	By       string    `json:"by"` // enrolment ID of the admin who approved
	At       time.Time `json:"at"`
}

// DecodeMembers parses a proposed member set strictly, validates it and
// returns it in canonical order (members by MSP ID, capacities sorted), so
// two organisations that approve the same set compute the same digest.
func DecodeMembers(data []byte) (Members, error) {
	var m Members
	if err := decodeStrict("members", data, &m); err != nil {
		return Members{}, err
	}
	m.canonicalize()
	return m, m.Validate()
}

func (m *Members) canonicalize() {
	for i := range m.Members {
		slices.Sort(m.Members[i].Capacities)
	}
	slices.SortFunc(m.Members, func(a, b Member) int { return strings.Compare(a.MSPID, b.MSPID) })
}

// Validate checks a member set: a positive sequence, 2 to MaxMembers
// members with distinct MSP IDs, a name and at least one known capacity each.
// Two is the least a consortium can be: one member alone would rule alone.
func (m Members) Validate() error {
	var p problems
	if m.Sequence < 1 {
		p.addf("sequence", "must be 1 or more")
	}
	if len(m.Members) < 2 || len(m.Members) > MaxMembers {
		p.addf("members", "must hold 2 to %d organisations", MaxMembers)
	}
	seen := map[string]bool{}
	for i, mb := range m.Members {
		f := fmt.Sprintf("members[%d]", i)
		checkMSP(&p, f+".mspId", mb.MSPID)
		if seen[mb.MSPID] {
			p.addf(f+".mspId", "%s is listed twice", mb.MSPID)
		}
		seen[mb.MSPID] = true
		checkText(&p, f+".name", mb.Name, 1, MaxTextLen)
		if len(mb.Capacities) == 0 {
			p.addf(f+".capacities", "must name at least one of %s", joinCapacities(Capacities))
		}
		for j, c := range mb.Capacities {
			if !slices.Contains(Capacities, c) {
				p.addf(fmt.Sprintf("%s.capacities[%d]", f, j), "%q is not one of %s", c, joinCapacities(Capacities))
			} else if j > 0 && mb.Capacities[j-1] == c {
				p.addf(fmt.Sprintf("%s.capacities[%d]", f, j), "%s is listed twice", c)
			}
		}
	}
	return p.err()
}

func joinCapacities(cs []Capacity) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Digest identifies a member set: SHA-256 of its canonical JSON.
func (m Members) Digest() string {
	m.canonicalize()
	b, _ := json.Marshal(m) // a struct of strings and ints always encodes
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Find returns the member with mspID.
func (m Members) Find(mspID string) (Member, bool) {
	for _, mb := range m.Members {
		if mb.MSPID == mspID {
			return mb, true
		}
	}
	return Member{}, false
}

// MSPIDs lists the members' MSP IDs in order.
func (m Members) MSPIDs() []string {
	ids := make([]string, len(m.Members))
	for i, mb := range m.Members {
		ids[i] = mb.MSPID
	}
	return ids
}

// Majority is how many members decide: more than half.
func (m Members) Majority() int { return len(m.Members)/2 + 1 }

// CheckCapacity refuses mspID, named by field, unless it is a member in
// capacity c. A nil consortium (no registry committed yet) refuses
// everything: the contract cannot tell a member from a typo.
func (c *Consortium) CheckCapacity(field, mspID string, capacity Capacity) error {
	if c == nil {
		return Errorf(Conflict, "the consortium's members are not recorded on the ledger yet: the member organisations' admins must ApproveMembers and CommitMembers first")
	}
	mb, ok := c.Find(mspID)
	if !ok {
		return Errorf(Invalid, "%s: %s is not a member of the consortium (members: %s)", field, mspID, strings.Join(c.MSPIDs(), ", "))
	}
	if !slices.Contains(mb.Capacities, capacity) {
		return Errorf(Invalid, "%s: %s is a member as %s, not as %s", field, mspID, joinCapacities(mb.Capacities), capacity)
	}
	return nil
}

// Voters is who votes on the next member set and how many must agree: a
// majority of the current members, or, for the first set, every
// organisation it lists (none can be made a member without its own vote).
func (c *Consortium) Voters(next Members) (ids []string, need int) {
	if c == nil {
		return next.MSPIDs(), len(next.Members)
	}
	return c.MSPIDs(), c.Majority()
}

func (c *Consortium) nextSequence() int64 {
	if c == nil {
		return 1
	}
	return c.Sequence + 1
}

// Approve records caller's organisation's vote for next at time at. Only an
// organisation that votes on next may approve it, and only for the next
// sequence.
func (c *Consortium) Approve(caller Caller, at time.Time, next Members) (Approval, error) {
	if err := AuthorizeRole(caller, OpApproveMembers); err != nil {
		return Approval{}, err
	}
	if err := next.Validate(); err != nil {
		return Approval{}, err
	}
	if next.Sequence != c.nextSequence() {
		return Approval{}, Errorf(Conflict, "ApproveMembers: sequence is %d; the next member set must have sequence %d", next.Sequence, c.nextSequence())
	}
	ids, _ := c.Voters(next)
	if !slices.Contains(ids, caller.MSPID) {
		return Approval{}, Errorf(Forbidden, "ApproveMembers: only %s vote on member set %d; caller is %s", strings.Join(ids, ", "), next.Sequence, caller)
	}
	return Approval{MSPID: caller.MSPID, Sequence: next.Sequence, Digest: next.Digest(), By: caller.ID, At: at.UTC()}, nil
}

// Commit makes next the member set when enough of its voters approved
// exactly it: a majority of the current members, or every listed member for
// the first set. approvals holds each organisation's latest vote (by MSP
// ID); a vote for another set or sequence does not count.
func (c *Consortium) Commit(caller Caller, at time.Time, next Members, approvals map[string]Approval) (*Consortium, error) {
	if err := AuthorizeRole(caller, OpCommitMembers); err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	if next.Sequence != c.nextSequence() {
		return nil, Errorf(Conflict, "CommitMembers: sequence is %d; the next member set must have sequence %d", next.Sequence, c.nextSequence())
	}
	ids, need := c.Voters(next)
	if !slices.Contains(ids, caller.MSPID) {
		return nil, Errorf(Forbidden, "CommitMembers: only %s vote on member set %d; caller is %s", strings.Join(ids, ", "), next.Sequence, caller)
	}
	digest := next.Digest()
	var yes, missing []string
	for _, id := range ids {
		if a, ok := approvals[id]; ok && a.Sequence == next.Sequence && a.Digest == digest {
			yes = append(yes, id)
		} else {
			missing = append(missing, id)
		}
	}
	if len(yes) < need {
		return nil, Errorf(Conflict, "CommitMembers: member set %d needs the approval of %d of %s; approved by %d (%s), not yet by %s",
			next.Sequence, need, strings.Join(ids, ", "), len(yes), strings.Join(yes, ", "), strings.Join(missing, ", "))
	}
	return &Consortium{Members: next, ApprovedBy: yes, UpdatedAt: at.UTC()}, nil
}
