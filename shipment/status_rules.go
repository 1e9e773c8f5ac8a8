package shipment

import "slices"

// opensIn lists, per write that depends on the status, the statuses in
// which it may happen. It is the one statement of that rule: each
// transition refuses with CONFLICT when StatusAllows says no, and the
// member console offers only the actions it allows.
var opensIn = map[Operation][]Status{
	OpShip:            {StatusCreated},
	OpCancel:          {StatusCreated},
	OpHandOver:        {StatusShipped, StatusInTransit},
	OpDeliver:         {StatusShipped, StatusInTransit},
	OpReject:          {StatusShipped, StatusInTransit},
	OpRecordReadings:  {StatusCreated, StatusShipped, StatusInTransit},
	OpRegisterSensors: {StatusCreated, StatusShipped, StatusInTransit},
	OpAttachDocument:  {StatusCreated, StatusShipped, StatusInTransit, StatusDelivered, StatusRejected},
	OpFlagOverdue:     {StatusCreated, StatusShipped, StatusInTransit},
	OpOpenClaim:       {StatusShipped, StatusInTransit, StatusDelivered, StatusRejected},
}

// StatusAllows reports whether op may happen while the shipment has its
// current status. Operations that do not depend on the status (reads,
// creation, the buyer contact) are always allowed by it; other rules
// (custody, time, the operation's own arguments) still apply.
func (s *Shipment) StatusAllows(op Operation) bool {
	in, ok := opensIn[op]
	return !ok || slices.Contains(in, s.Status)
}
