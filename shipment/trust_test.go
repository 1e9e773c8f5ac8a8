package shipment

import (
	"strings"
	"testing"
	"time"
)

// Rules that keep one member, device or clock from rewriting what the others
// rely on (chaincode/README.md, "Trust matrix").

func TestCheckTxTime(t *testing.T) {
	tol := DefaultClockTolerance
	tests := []struct {
		name string
		tx   time.Time
		want Code
	}{
		{"same instant", t0, ""},
		{"at the tolerance behind", t0.Add(-tol), ""},
		{"at the tolerance ahead", t0.Add(tol), ""},
		{"one second past the tolerance behind", t0.Add(-tol - time.Second), Invalid},
		{"one second past the tolerance ahead", t0.Add(tol + time.Second), Invalid},
		{"thirty days in the past (backdated delivery)", t0.Add(-30 * 24 * time.Hour), Invalid},
		{"thirty days in the future (early overdue)", t0.Add(30 * 24 * time.Hour), Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTxTime(tt.tx, t0, tol)
			wantCode(t, err, tt.want)
			if err != nil && !strings.Contains(err.Error(), "NTP") {
				t.Fatalf("refusal %q does not say what to fix", err)
			}
		})
	}
}

func TestRecordedTimesNeverGoBackwards(t *testing.T) {
	s := inStatus(t, StatusShipped) // last change at t0
	before := t0.Add(-time.Second)
	wantCode(t, s.HandOver(exporter, before, carrierMSP, members), Conflict)
	wantCode(t, s.AttachDocument(exporter, before, Document{Type: "other", SHA256: strings.Repeat("a", 64)}), Conflict)
	if s.Custodian != exporterMSP || s.Status != StatusShipped {
		t.Fatalf("a refused change changed the record: %s %s", s.Status, s.Custodian)
	}
	wantCode(t, s.HandOver(exporter, t0, carrierMSP, members), "") // the same instant is not backwards
	wantCode(t, s.Deliver(buyer, t0.Add(-time.Millisecond)), Conflict)
	wantCode(t, s.FlagOverdue(buyer, t0.Add(-time.Hour)), Conflict)
	wantCode(t, s.Deliver(buyer, t0.Add(time.Hour)), "")
	if !s.DeliveredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("delivered at %s", s.DeliveredAt)
	}
}

func TestCustodyChainRecordsEveryHolder(t *testing.T) {
	s := created(t)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	wantCode(t, s.Ship(exporter, at(1)), "")
	wantCode(t, s.HandOver(exporter, at(2), carrierMSP, members), "")
	wantCode(t, s.HandOver(carrier, at(5), "Carrier2MSP", members), "")
	wantCode(t, s.Deliver(buyer, at(9)), "")
	want := []CustodyPeriod{{exporterMSP, t0}, {carrierMSP, at(2)}, {"Carrier2MSP", at(5)}, {buyerMSP, at(9)}}
	if len(s.Custody) != len(want) {
		t.Fatalf("custody = %+v, want %+v", s.Custody, want)
	}
	for i := range want {
		if s.Custody[i].Holder != want[i].Holder || !s.Custody[i].Since.Equal(want[i].Since) {
			t.Fatalf("custody[%d] = %+v, want %+v", i, s.Custody[i], want[i])
		}
	}
	for _, c := range []struct {
		msp  string
		at   time.Time
		held bool
	}{
		{exporterMSP, t0, true},
		{exporterMSP, at(2).Add(-time.Millisecond), true},
		{exporterMSP, at(2), false}, // the hand-over instant belongs to the new holder
		{carrierMSP, at(2), true},
		{carrierMSP, at(5).Add(-time.Millisecond), true},
		{carrierMSP, at(5), false},
		{"Carrier2MSP", at(7), true},
		{carrierMSP, t0.Add(-time.Hour), false},
		{buyerMSP, at(100), true},
	} {
		if got := s.heldBy(c.msp, c.at); got != c.held {
			t.Errorf("heldBy(%s, %s) = %v, want %v", c.msp, c.at.Format(time.RFC3339Nano), got, c.held)
		}
	}
}

// TestReadingsMustFallInsideTheRecordersCustody: a carrier cannot place an
// excursion in the exporter's custody, or before the shipment existed, and
// breach the shipment on the exporter's account.
func TestReadingsMustFallInsideTheRecordersCustody(t *testing.T) {
	s := created(t)
	handover := t0.Add(2 * time.Hour)
	wantCode(t, s.Ship(exporter, t0.Add(time.Hour)), "")
	wantCode(t, s.HandOver(exporter, handover, carrierMSP, members), "")
	now := handover.Add(time.Hour)
	hot := func(from time.Time) []Reading {
		return []Reading{{SensorID: "s1", Time: from, Celsius: 20}, {SensorID: "s1", Time: from.Add(40 * time.Minute), Celsius: 20}}
	}
	for name, batch := range map[string][]Reading{
		"inside the exporter's custody":    hot(t0.Add(30 * time.Minute)),
		"straddling the hand-over":         hot(handover.Add(-10 * time.Minute)),
		"before the shipment existed":      hot(t0.Add(-24 * time.Hour)),
		"one reading a millisecond before": {{SensorID: "s1", Time: handover.Add(-time.Millisecond), Celsius: 5}},
	} {
		t.Run(name, func(t *testing.T) {
			before := *s
			_, err := recordInto(s, &memStore{}, carrier, now, batch)
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), "outside CarrierMSP's custody") || !strings.Contains(err.Error(), handover.Format(time.RFC3339)) {
				t.Fatalf("refusal %q does not name the custody window", err)
			}
			if s.ColdChain.Count != before.ColdChain.Count || s.ColdChain.State != before.ColdChain.State {
				t.Fatalf("refused batch changed the summary")
			}
		})
	}
	res, err := recordInto(s, &memStore{}, carrier, now, hot(handover))
	wantCode(t, err, "")
	if !res.Breached {
		t.Fatalf("an excursion inside the carrier's own custody must still breach")
	}
}

func TestPartiesMustBeMembersInTheirCapacity(t *testing.T) {
	tests := []struct {
		name   string
		caller Caller
		change func(n *NewShipment)
		want   string
	}{
		{"exporter not a member", Caller{MSPID: "StrangerMSP", Role: RoleGateway}, nil, "StrangerMSP is not a member"},
		{"exporter not in exporter capacity", carrier, func(n *NewShipment) { n.Carrier = "Carrier2MSP" }, "CarrierMSP is a member as carrier, not as exporter"},
		{"buyer typo", exporter, func(n *NewShipment) { n.Buyer = "RetailerMsp" }, "buyer: RetailerMsp is not a member"},
		{"buyer is a carrier", exporter, func(n *NewShipment) { n.Buyer = "Carrier2MSP" }, "buyer: Carrier2MSP is a member as carrier, not as retailer"},
		{"carrier not a member", exporter, func(n *NewShipment) { n.Carrier = "TruckMSP" }, "carrier: TruckMSP is not a member"},
		{"carrier is a retailer", exporter, func(n *NewShipment) { n.Carrier = outsiderMSP }, "carrier: OtherMSP is a member as exporter, retailer, not as carrier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := validNew()
			if tt.change != nil {
				tt.change(&n)
			}
			_, err := Create(n, tt.caller, t0, members)
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
	if _, err := Create(validNew(), exporter, t0, nil); ErrorCode(err) != Conflict || !strings.Contains(err.Error(), "ApproveMembers") {
		t.Fatalf("without a registry: %v", err)
	}
}

func TestHandOverOnlyToAMemberThatCanHoldTheGoods(t *testing.T) {
	for name, to := range map[string]string{
		"typo":                  "RetailerMsp",
		"not a member":          "StrangerMSP",
		"member but no carrier": outsiderMSP,
	} {
		t.Run(name, func(t *testing.T) {
			s := inStatus(t, StatusShipped)
			err := s.HandOver(exporter, t0, to, members)
			wantCode(t, err, Invalid)
			if !strings.Contains(err.Error(), to) {
				t.Fatalf("refusal %q does not name %s", err, to)
			}
			if s.Custodian != exporterMSP || len(s.Custody) != 1 {
				t.Fatalf("refused hand-over changed custody: %+v", s.Custody)
			}
		})
	}
	s := inStatus(t, StatusShipped)
	wantCode(t, s.HandOver(exporter, t0, buyerMSP, members), "") // the buyer itself may take the goods
}

func memberSet(seq int64, msps ...string) Members {
	m := Members{Sequence: seq}
	for _, id := range msps {
		m.Members = append(m.Members, Member{MSPID: id, Name: id, Capacities: []Capacity{CapacityCarrier}})
	}
	m.canonicalize()
	return m
}

func admin(msp string) Caller { return Caller{MSPID: msp, Role: RoleAdmin, ID: "Admin@" + msp} }

func TestMembershipNeedsItsVoters(t *testing.T) {
	first := memberSet(1, "AMSP", "BMSP", "CMSP")
	votes := map[string]Approval{}
	approve := func(c *Consortium, who string, m Members) {
		t.Helper()
		a, err := c.Approve(admin(who), t0, m)
		if err != nil {
			t.Fatalf("approve by %s: %v", who, err)
		}
		votes[who] = a
	}

	// The first set needs every listed member: two of three is not enough,
	// so no member can be written in without its own vote.
	approve(nil, "AMSP", first)
	approve(nil, "BMSP", first)
	if _, err := (*Consortium)(nil).Commit(admin("AMSP"), t0, first, votes); ErrorCode(err) != Conflict || !strings.Contains(err.Error(), "not yet by CMSP") {
		t.Fatalf("bootstrap with 2 of 3: %v", err)
	}
	if _, err := (*Consortium)(nil).Approve(admin("DMSP"), t0, first); ErrorCode(err) != Forbidden {
		t.Fatalf("an organisation outside the set approved it: %v", err)
	}
	approve(nil, "CMSP", first)
	reg, err := (*Consortium)(nil).Commit(admin("CMSP"), t0, first, votes)
	if err != nil {
		t.Fatal(err)
	}

	// Later sets need a majority of the current members (2 of 3).
	second := memberSet(2, "AMSP", "BMSP", "CMSP", "DMSP")
	if _, err := reg.Approve(admin("DMSP"), t0, second); ErrorCode(err) != Forbidden {
		t.Fatalf("a joining organisation voted itself in: %v", err)
	}
	if _, err := reg.Approve(admin("AMSP"), t0, first); ErrorCode(err) != Conflict {
		t.Fatalf("an approval of the committed sequence again: %v", err)
	}
	approve(reg, "AMSP", second)
	if _, err := reg.Commit(admin("AMSP"), t0, second, votes); ErrorCode(err) != Conflict {
		t.Fatalf("one vote of three committed: %v", err)
	}
	// A vote for a different set of the same sequence does not count.
	other := memberSet(2, "AMSP", "BMSP", "EMSP")
	approve(reg, "BMSP", other)
	if _, err := reg.Commit(admin("AMSP"), t0, second, votes); ErrorCode(err) != Conflict {
		t.Fatalf("a vote for another set counted: %v", err)
	}
	approve(reg, "BMSP", second)
	for _, role := range []string{RoleGateway, RoleAuditor, ""} {
		if _, err := reg.Commit(Caller{MSPID: "AMSP", Role: role}, t0, second, votes); ErrorCode(err) != Forbidden {
			t.Fatalf("role %q committed: %v", role, err)
		}
	}
	next, err := reg.Commit(admin("BMSP"), t0, second, votes)
	if err != nil {
		t.Fatal(err)
	}
	if next.Sequence != 2 || len(next.Members.Members) != 4 || strings.Join(next.ApprovedBy, ",") != "AMSP,BMSP" {
		t.Fatalf("committed %+v", next)
	}
	// An old approval cannot be replayed against the next sequence.
	if _, err := next.Commit(admin("AMSP"), t0, Members{Sequence: 3, Members: second.Members}, votes); ErrorCode(err) != Conflict {
		t.Fatalf("sequence-2 votes committed sequence 3: %v", err)
	}
}

func TestMembersValidationAndDigest(t *testing.T) {
	for name, body := range map[string]string{
		"one member":       `{"sequence":1,"members":[{"mspId":"AMSP","name":"A","capacities":["exporter"]}]}`,
		"no capacity":      `{"sequence":1,"members":[{"mspId":"AMSP","name":"A","capacities":[]},{"mspId":"BMSP","name":"B","capacities":["carrier"]}]}`,
		"unknown capacity": `{"sequence":1,"members":[{"mspId":"AMSP","name":"A","capacities":["bank"]},{"mspId":"BMSP","name":"B","capacities":["carrier"]}]}`,
		"twice":            `{"sequence":1,"members":[{"mspId":"AMSP","name":"A","capacities":["carrier"]},{"mspId":"AMSP","name":"B","capacities":["carrier"]}]}`,
		"zero sequence":    `{"sequence":0,"members":[{"mspId":"AMSP","name":"A","capacities":["carrier"]},{"mspId":"BMSP","name":"B","capacities":["carrier"]}]}`,
		"unknown field":    `{"sequence":1,"admins":[]}`,
		"bad msp":          `{"sequence":1,"members":[{"mspId":"A MSP","name":"A","capacities":["carrier"]},{"mspId":"BMSP","name":"B","capacities":["carrier"]}]}`,
	} {
		if _, err := DecodeMembers([]byte(body)); ErrorCode(err) != Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	a, err := DecodeMembers([]byte(`{"sequence":1,"members":[{"mspId":"BMSP","name":"B","capacities":["retailer","carrier"]},{"mspId":"AMSP","name":"A","capacities":["exporter"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeMembers([]byte(`{"members":[{"capacities":["exporter"],"name":"A","mspId":"AMSP"},{"mspId":"BMSP","name":"B","capacities":["carrier","retailer"]}],"sequence":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest() != b.Digest() {
		t.Fatalf("the same set in another order has another digest")
	}
	if a.Members[0].MSPID != "AMSP" || a.Members[1].Capacities[0] != CapacityCarrier {
		t.Fatalf("not canonical: %+v", a)
	}
}

// TestEndorsersFollowCustody: exporter and buyer always, the carrier only
// while it holds the goods.
func TestEndorsersFollowCustody(t *testing.T) {
	s := inStatus(t, StatusShipped)
	if got := strings.Join(s.Endorsers(), ","); got != "ExporterMSP,RetailerMSP" {
		t.Fatalf("shipped: %s", got)
	}
	wantCode(t, s.HandOver(exporter, t0, carrierMSP, members), "")
	if got := strings.Join(s.Endorsers(), ","); got != "CarrierMSP,ExporterMSP,RetailerMSP" {
		t.Fatalf("with the carrier: %s", got)
	}
	wantCode(t, s.HandOver(carrier, t0, buyerMSP, members), "")
	if got := strings.Join(s.Endorsers(), ","); got != "ExporterMSP,RetailerMSP" {
		t.Fatalf("with the buyer: %s", got)
	}
}
