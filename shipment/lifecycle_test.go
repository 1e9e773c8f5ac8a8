package shipment

import (
	"strings"
	"testing"
	"time"
)

// TestTransitions applies every state-changing operation, by its rightful
// caller, in every status, and checks which are allowed and where they lead.
func TestTransitions(t *testing.T) {
	at := t0.Add(2 * time.Hour)
	late := t0.Add(11 * 24 * time.Hour)
	sum := strings.Repeat("0f", 32)
	type op struct {
		name string
		run  func(s *Shipment) error
		// next is the status after success, keyed by the status before.
		next map[Status]Status
	}
	same := func(sts ...Status) map[Status]Status {
		m := map[Status]Status{}
		for _, st := range sts {
			m[st] = st
		}
		return m
	}
	custodian := func(s *Shipment) Caller { return Caller{MSPID: s.Custodian, Role: RoleGateway} }
	ops := []op{
		{"Ship", func(s *Shipment) error { return s.Ship(exporter, at) },
			map[Status]Status{StatusCreated: StatusShipped}},
		{"HandOver", func(s *Shipment) error {
			to := carrierMSP
			if s.Custodian == carrierMSP {
				to = "Carrier2MSP"
			}
			return s.HandOver(custodian(s), at, to, members)
		}, map[Status]Status{StatusShipped: StatusInTransit, StatusInTransit: StatusInTransit}},
		{"Deliver", func(s *Shipment) error { return s.Deliver(buyer, at) },
			map[Status]Status{StatusShipped: StatusDelivered, StatusInTransit: StatusDelivered}},
		{"Reject", func(s *Shipment) error { return s.Reject(buyer, at, "temperature log incomplete") },
			map[Status]Status{StatusShipped: StatusRejected, StatusInTransit: StatusRejected}},
		{"Cancel", func(s *Shipment) error { return s.Cancel(exporter, at, "order withdrawn") },
			map[Status]Status{StatusCreated: StatusCancelled}},
		{"FlagOverdue", func(s *Shipment) error { return s.FlagOverdue(outsider, late) },
			same(StatusCreated, StatusShipped, StatusInTransit)},
		{"RecordReadings", func(s *Shipment) error {
			_, err := recordInto(s, &memStore{}, custodian(s), at, []Reading{{SensorID: "S1", Time: at, Celsius: 5}})
			return err
		}, same(StatusCreated, StatusShipped, StatusInTransit)},
		{"AttachDocument", func(s *Shipment) error {
			return s.AttachDocument(exporter, at, Document{Type: "packing_list", SHA256: sum})
		}, same(StatusCreated, StatusShipped, StatusInTransit, StatusDelivered, StatusRejected)},
	}
	for _, o := range ops {
		for _, from := range Statuses {
			t.Run(o.name+"/from_"+string(from), func(t *testing.T) {
				s := inStatus(t, from)
				before := *s
				err := o.run(s)
				next, ok := o.next[from]
				if !ok {
					wantCode(t, err, Conflict)
					if s.Status != before.Status || !s.UpdatedAt.Equal(before.UpdatedAt) {
						t.Fatalf("refused %s changed the shipment", o.name)
					}
					return
				}
				wantCode(t, err, "")
				if s.Status != next {
					t.Fatalf("status after %s from %s = %s, want %s", o.name, from, s.Status, next)
				}
				// (RecordReadings stamps the record here because the batch
				// registers its sensor; see TestLaterBatchesLeaveTheRecord.)
				if !s.UpdatedAt.Equal(at) && !s.UpdatedAt.Equal(late) {
					t.Fatalf("UpdatedAt = %s, want the transaction time", s.UpdatedAt)
				}
			})
		}
	}
}

func TestCreateTakesPartiesFromCallerAndTime(t *testing.T) {
	s := created(t)
	if s.Exporter != exporterMSP || s.Custodian != exporterMSP || s.UpdatedBy != exporterMSP {
		t.Fatalf("exporter/custodian/updatedBy = %s/%s/%s, want the caller", s.Exporter, s.Custodian, s.UpdatedBy)
	}
	if !s.CreatedAt.Equal(t0) || s.Status != StatusCreated || s.ColdChain.State != ColdChainOK {
		t.Fatalf("unexpected new shipment: %+v", s)
	}
}

func TestCreateRefusesInvalidRequest(t *testing.T) {
	n := validNew()
	n.ID = "!"
	_, err := Create(n, exporter, t0, members)
	wantCode(t, err, Invalid)
}

func TestHandOverChain(t *testing.T) {
	s := inStatus(t, StatusShipped)
	at := t0.Add(2 * time.Hour)
	wantCode(t, s.HandOver(exporter, at, carrierMSP, members), "")
	wantCode(t, s.HandOver(carrier, at, "Carrier2MSP", members), "")
	if s.Custodian != "Carrier2MSP" || s.Carrier != "Carrier2MSP" {
		t.Fatalf("custodian/carrier = %s/%s, want Carrier2MSP", s.Custodian, s.Carrier)
	}
	wantCode(t, s.HandOver(carrier, at, exporterMSP, members), Forbidden)
	wantCode(t, s.HandOver(Caller{MSPID: "Carrier2MSP", Role: RoleGateway}, at, "Carrier2MSP", members), Invalid)
	wantCode(t, s.HandOver(Caller{MSPID: "Carrier2MSP", Role: RoleGateway}, at, "bad msp!", members), Invalid)
	wantCode(t, s.HandOver(Caller{MSPID: "Carrier2MSP", Role: RoleGateway}, at, buyerMSP, members), "")
	if s.Carrier != "Carrier2MSP" {
		t.Fatalf("hand-over to the buyer changed the carrier to %s", s.Carrier)
	}
	wantCode(t, s.Deliver(buyer, at), "")
	if s.Custodian != buyerMSP {
		t.Fatalf("custodian after delivery = %s", s.Custodian)
	}
}

func TestRejectAndCancelNeedAReason(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	wantCode(t, s.Reject(buyer, t0, ""), Invalid)
	c := created(t)
	wantCode(t, c.Cancel(exporter, t0, strings.Repeat("x", MaxReasonLen+1)), Invalid)
}

func TestFlagOverdue(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		code Code
	}{
		{"before expected delivery", t0.Add(24 * time.Hour), Conflict},
		{"exactly at expected delivery", validNew().ExpectedDeliveryAt, Conflict},
		{"one second late", validNew().ExpectedDeliveryAt.Add(time.Second), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inStatus(t, StatusInTransit)
			wantCode(t, s.FlagOverdue(outsider, tt.at), tt.code)
		})
	}
	s := inStatus(t, StatusInTransit)
	late := validNew().ExpectedDeliveryAt.Add(36 * time.Hour)
	wantCode(t, s.FlagOverdue(buyer, late), "")
	if !s.Overdue || s.Settlement == nil || s.Settlement.Outcome != OutcomeProvisional || s.Settlement.DaysLate != 2 {
		t.Fatalf("overdue settlement = %+v", s.Settlement)
	}
	wantCode(t, s.FlagOverdue(buyer, late.Add(time.Hour)), Conflict)
}

func TestAttachDocumentOnceAndBounded(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	d := Document{Type: "bill_of_lading", SHA256: strings.Repeat("1a", 32)}
	wantCode(t, s.AttachDocument(carrier, t0, d), "")
	wantCode(t, s.AttachDocument(buyer, t0, d), Conflict)
	if got := s.Documents[0]; got.AddedBy != carrierMSP || !got.AddedAt.Equal(t0) {
		t.Fatalf("document provenance = %+v", got)
	}
	wantCode(t, s.AttachDocument(carrier, t0, Document{Type: "nope", SHA256: d.SHA256}), Invalid)
	for i := len(s.Documents); i < MaxDocuments; i++ {
		sum := strings.Repeat("0", 62) + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16])
		wantCode(t, s.AttachDocument(exporter, t0, Document{Type: "other", SHA256: sum}), "")
	}
	wantCode(t, s.AttachDocument(exporter, t0, Document{Type: "other", SHA256: strings.Repeat("f", 64)}), Conflict)
}
