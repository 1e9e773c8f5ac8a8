package shipment

import (
	"slices"
	"strings"
	"testing"
)

// TestStatusAllowsFollowsTheLifecycle pins, for every status, the writes
// it admits (docs/contract.md's transitions), so the console's offer and
// the contract's refusals cannot drift apart silently.
func TestStatusAllowsFollowsTheLifecycle(t *testing.T) {
	want := map[Status][]Operation{
		StatusCreated:   {OpShip, OpCancel, OpRecordReadings, OpRegisterSensors, OpAttachDocument, OpFlagOverdue},
		StatusShipped:   {OpHandOver, OpDeliver, OpReject, OpRecordReadings, OpRegisterSensors, OpAttachDocument, OpFlagOverdue, OpOpenClaim},
		StatusInTransit: {OpHandOver, OpDeliver, OpReject, OpRecordReadings, OpRegisterSensors, OpAttachDocument, OpFlagOverdue, OpOpenClaim},
		StatusDelivered: {OpAttachDocument, OpOpenClaim},
		StatusRejected:  {OpAttachDocument, OpOpenClaim},
		StatusCancelled: {},
	}
	for _, st := range Statuses {
		s := &Shipment{Status: st}
		for op := range opensIn {
			if got := s.StatusAllows(op); got != slices.Contains(want[st], op) {
				t.Errorf("%s allows %s: %v, want %v", st, op, got, !got)
			}
		}
		if !s.StatusAllows(OpRead) || !s.StatusAllows(OpSetContact) {
			t.Errorf("%s: reads and the buyer contact do not depend on the status", st)
		}
	}
}

// TestTransitionsRefuseWhatTheStatusDoesNotAllow: the transitions use the
// same rule (one example per kind; the lifecycle tests cover the rest).
func TestTransitionsRefuseWhatTheStatusDoesNotAllow(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	wantCode(t, s.Ship(exporter, t0), Conflict)
	s = inStatus(t, StatusCreated)
	wantCode(t, s.Deliver(buyer, t0), Conflict)
	s = inStatus(t, StatusCancelled)
	wantCode(t, s.AttachDocument(exporter, t0, Document{Type: "bill_of_lading", SHA256: strings.Repeat("ab", 32)}), Conflict)
}
