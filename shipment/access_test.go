package shipment

import (
	"strings"
	"testing"
	"time"
)

// TestAuthorizeMatrix pins who may do what on a shipment in transit, where
// the exporter, the custodian (carrier), the buyer and an outsider are four
// different organisations.
func TestAuthorizeMatrix(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	type who struct {
		name string
		c    Caller
	}
	callers := []who{{"exporter", exporter}, {"custodian", carrier}, {"buyer", buyer}, {"outsider", outsider}}
	allowed := map[Operation][]string{
		OpCreate:         {"exporter", "custodian", "buyer", "outsider"},
		OpAttachDocument: {"exporter", "custodian", "buyer"},
		OpShip:           {"exporter"},
		OpHandOver:       {"custodian"},
		OpRecordReadings: {"custodian"},
		OpDeliver:        {"buyer"},
		OpReject:         {"buyer"},
		OpCancel:         {"exporter"},
		OpFlagOverdue:    {"exporter", "custodian", "buyer", "outsider"},
		OpRead:           {"exporter", "custodian", "buyer", "outsider"},
		OpSetContact:     {"exporter"},
		OpReadContact:    {"exporter"},
		OpDeleteContact:  {"exporter"},
	}
	if len(allowed) != len(Operations) {
		t.Fatalf("matrix covers %d operations, Operations lists %d", len(allowed), len(Operations))
	}
	for _, op := range Operations {
		for _, w := range callers {
			t.Run(string(op)+"/"+w.name, func(t *testing.T) {
				target := s
				if op == OpCreate {
					target = nil
				}
				err := Authorize(w.c, target, op)
				want := false
				for _, a := range allowed[op] {
					want = want || a == w.name
				}
				if want {
					wantCode(t, err, "")
					return
				}
				wantCode(t, err, Forbidden)
				if !strings.Contains(err.Error(), "caller is "+w.c.MSPID) {
					t.Fatalf("refusal %q does not name the caller", err)
				}
			})
		}
	}
}

func TestAuthorizeRoles(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	tests := []struct {
		name string
		role string
		op   Operation
		code Code
	}{
		{"no role acts for the organisation", "", OpHandOver, ""},
		{"operator acts for the organisation", RoleOperator, OpHandOver, ""},
		{"admin acts for the organisation", RoleAdmin, OpRecordReadings, ""},
		{"viewer may read", RoleViewer, OpRead, ""},
		{"viewer may not write", RoleViewer, OpHandOver, Forbidden},
		{"viewer may not flag overdue", RoleViewer, OpFlagOverdue, Forbidden},
		{"unknown role may read", "auditor", OpRead, ""},
		{"unknown role may not write", "auditor", OpRecordReadings, Forbidden},
		{"role does not widen organisation rights", RoleAdmin, OpDeliver, Forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, Authorize(Caller{MSPID: carrierMSP, Role: tt.role}, s, tt.op), tt.code)
		})
	}
	wantCode(t, Authorize(Caller{MSPID: exporterMSP, Role: RoleViewer}, s, OpReadContact), Forbidden)
	wantCode(t, Authorize(Caller{}, s, OpRead), Forbidden)
	wantCode(t, Authorize(exporter, s, Operation("Explode")), Forbidden)
}

// TestForbiddenBeforeConflict: a caller without the right learns nothing about
// the state from the error.
func TestForbiddenBeforeConflict(t *testing.T) {
	s := inStatus(t, StatusDelivered)
	wantCode(t, s.Ship(outsider, t0.Add(2*time.Hour)), Forbidden)
	wantCode(t, s.Ship(exporter, t0.Add(2*time.Hour)), Conflict)
}
