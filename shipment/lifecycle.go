package shipment

import "time"

// stamp records who changed the shipment and when; the transaction ID is added
// by the contract.
func (s *Shipment) stamp(c Caller, at time.Time) {
	s.UpdatedAt = at.UTC()
	s.UpdatedBy = c.MSPID
}

// Create builds the record of a new shipment requested by caller at the
// transaction time at. The caller's organisation becomes exporter and first
// custodian. Exporter, buyer and carrier must be consortium members in those
// capacities: a shipment whose parties cannot endorse could never change.
func Create(n NewShipment, c Caller, at time.Time, members *Consortium) (*Shipment, error) {
	if err := Authorize(c, nil, OpCreate); err != nil {
		return nil, err
	}
	if err := n.Validate(c.MSPID, at); err != nil {
		return nil, err
	}
	if err := members.CheckCapacity("exporter (the caller)", c.MSPID, CapacityExporter); err != nil {
		return nil, err
	}
	if err := members.CheckCapacity("buyer", n.Buyer, CapacityRetailer); err != nil {
		return nil, err
	}
	if n.Carrier != "" {
		if err := members.CheckCapacity("carrier", n.Carrier, CapacityCarrier); err != nil {
			return nil, err
		}
	}
	at = at.UTC()
	s := &Shipment{
		ID:                 n.ID,
		Exporter:           c.MSPID,
		Carrier:            n.Carrier,
		Buyer:              n.Buyer,
		BuyerRef:           n.BuyerRef,
		Custodian:          c.MSPID,
		Custody:            []CustodyPeriod{{Holder: c.MSPID, Since: at}},
		Status:             StatusCreated,
		Product:            n.Product,
		Origin:             n.Origin,
		Destination:        n.Destination,
		ColdChainPolicy:    n.ColdChain,
		ColdChain:          ColdChainSummary{State: ColdChainOK},
		ExpectedDeliveryAt: n.ExpectedDeliveryAt.UTC(),
		Terms:              n.Terms,
		CreatedAt:          at,
	}
	s.stamp(c, at)
	return s, nil
}

// begin authorises op and refuses a time before the last change: the first
// step of every transition.
func (s *Shipment) begin(c Caller, op Operation, at time.Time) error {
	if err := Authorize(c, s, op); err != nil {
		return err
	}
	return s.checkNotBefore(op, at)
}

func (s *Shipment) conflictf(op Operation, format string, args ...any) error {
	e := Errorf(Conflict, format, args...)
	e.Message = string(op) + " of shipment " + s.ID + ": " + e.Message
	return e
}

// AttachDocument adds evidence to the shipment. The same document (type and
// digest) is attached once.
func (s *Shipment) AttachDocument(c Caller, at time.Time, d Document) error {
	if err := s.begin(c, OpAttachDocument, at); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	if !s.StatusAllows(OpAttachDocument) {
		return s.conflictf(OpAttachDocument, "the shipment is CANCELLED")
	}
	for _, have := range s.Documents {
		if have.Type == d.Type && have.SHA256 == d.SHA256 {
			return s.conflictf(OpAttachDocument, "document %s with sha256 %s is already attached", d.Type, d.SHA256)
		}
	}
	if len(s.Documents) >= MaxDocuments {
		return s.conflictf(OpAttachDocument, "a shipment holds at most %d documents", MaxDocuments)
	}
	d.AddedBy, d.AddedAt = c.MSPID, at.UTC()
	s.Documents = append(s.Documents, d)
	s.stamp(c, at)
	return nil
}

// Ship marks the goods dispatched by the exporter. Custody stays with the
// exporter until it hands the goods over.
func (s *Shipment) Ship(c Caller, at time.Time) error {
	if err := s.begin(c, OpShip, at); err != nil {
		return err
	}
	if !s.StatusAllows(OpShip) {
		return s.conflictf(OpShip, "status is %s; only a CREATED shipment can be shipped", s.Status)
	}
	s.Status = StatusShipped
	s.ShippedAt = at.UTC()
	s.stamp(c, at)
	return nil
}

// HandOver passes custody from the current custodian to the organisation to,
// which must be the shipment's exporter or buyer, or a consortium member in
// the capacity of carrier: custody written into the key-level endorsement
// policy must belong to an organisation that can endorse. An organisation
// other than the exporter and the buyer that takes custody becomes the
// shipment's carrier.
func (s *Shipment) HandOver(c Caller, at time.Time, to string, members *Consortium) error {
	if err := s.begin(c, OpHandOver, at); err != nil {
		return err
	}
	if err := ValidateMSPID("toMSP", to); err != nil {
		return err
	}
	if !s.StatusAllows(OpHandOver) {
		return s.conflictf(OpHandOver, "status is %s; custody changes only while SHIPPED or IN_TRANSIT", s.Status)
	}
	if to == s.Custodian {
		return Errorf(Invalid, "toMSP: %s already holds shipment %s", to, s.ID)
	}
	if to != s.Exporter && to != s.Buyer {
		if err := members.CheckCapacity("toMSP", to, CapacityCarrier); err != nil {
			return err
		}
		s.Carrier = to
	}
	s.passCustody(to, at)
	s.Status = StatusInTransit
	s.stamp(c, at)
	return nil
}

// Deliver records the buyer's confirmation of delivery and settles the terms.
func (s *Shipment) Deliver(c Caller, at time.Time) error {
	if err := s.begin(c, OpDeliver, at); err != nil {
		return err
	}
	if !s.StatusAllows(OpDeliver) {
		return s.conflictf(OpDeliver, "status is %s; only a SHIPPED or IN_TRANSIT shipment can be delivered", s.Status)
	}
	s.Status = StatusDelivered
	if s.Custodian != s.Buyer {
		s.passCustody(s.Buyer, at)
	}
	s.DeliveredAt = at.UTC()
	s.Settlement = Settle(s.Terms, SettleDelivered, s.ExpectedDeliveryAt, at, s.ColdChain.State == ColdChainBreached)
	s.stamp(c, at)
	return nil
}

// Reject records the buyer's refusal of the goods and settles the terms.
func (s *Shipment) Reject(c Caller, at time.Time, reason string) error {
	if err := s.begin(c, OpReject, at); err != nil {
		return err
	}
	if err := ValidateReason(reason); err != nil {
		return err
	}
	if !s.StatusAllows(OpReject) {
		return s.conflictf(OpReject, "status is %s; only a SHIPPED or IN_TRANSIT shipment can be rejected", s.Status)
	}
	s.Status = StatusRejected
	s.Reason = reason
	s.Settlement = Settle(s.Terms, SettleRejected, s.ExpectedDeliveryAt, at, s.ColdChain.State == ColdChainBreached)
	s.stamp(c, at)
	return nil
}

// Cancel withdraws a shipment that has not been shipped.
func (s *Shipment) Cancel(c Caller, at time.Time, reason string) error {
	if err := s.begin(c, OpCancel, at); err != nil {
		return err
	}
	if err := ValidateReason(reason); err != nil {
		return err
	}
	if !s.StatusAllows(OpCancel) {
		return s.conflictf(OpCancel, "status is %s; only a CREATED shipment can be cancelled", s.Status)
	}
	s.Status = StatusCancelled
	s.Reason = reason
	s.stamp(c, at)
	return nil
}

// FlagOverdue marks a shipment that is past its expected delivery time and not
// delivered, and computes the late penalty accrued so far. It succeeds once
// per shipment, so a scheduler may call it freely.
func (s *Shipment) FlagOverdue(c Caller, at time.Time) error {
	if err := s.begin(c, OpFlagOverdue, at); err != nil {
		return err
	}
	if !s.StatusAllows(OpFlagOverdue) {
		return s.conflictf(OpFlagOverdue, "status is %s; only an open shipment can be overdue", s.Status)
	}
	if !at.After(s.ExpectedDeliveryAt) {
		return s.conflictf(OpFlagOverdue, "not overdue: expected delivery is %s, transaction time is %s",
			s.ExpectedDeliveryAt.Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	if s.Overdue {
		return s.conflictf(OpFlagOverdue, "already flagged overdue")
	}
	s.Overdue = true
	s.Settlement = Settle(s.Terms, SettleOverdue, s.ExpectedDeliveryAt, at, s.ColdChain.State == ColdChainBreached)
	s.stamp(c, at)
	return nil
}

// CheckContactAccess decides whether caller may read or erase the buyer
// contact of s.
func (s *Shipment) CheckContactAccess(c Caller, op Operation) error {
	return Authorize(c, s, op)
}
