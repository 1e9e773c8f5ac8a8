package shipment

import (
	"testing"
	"time"
)

const (
	exporterMSP = "ExporterMSP"
	carrierMSP  = "CarrierMSP"
	buyerMSP    = "RetailerMSP"
	outsiderMSP = "OtherMSP"
)

var (
	t0       = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	exporter = Caller{MSPID: exporterMSP, Role: RoleGateway}
	carrier  = Caller{MSPID: carrierMSP, Role: RoleGateway}
	buyer    = Caller{MSPID: buyerMSP, Role: RoleGateway}
	outsider = Caller{MSPID: outsiderMSP, Role: RoleGateway}

	// members is the consortium of the tests: OtherMSP is a member too (an
	// outsider to the shipments, not to the channel).
	members = &Consortium{Members: Members{Sequence: 1, Members: []Member{
		{MSPID: carrierMSP, Name: "Carrier", Capacities: []Capacity{CapacityCarrier}},
		{MSPID: "Carrier2MSP", Name: "Second carrier", Capacities: []Capacity{CapacityCarrier}},
		{MSPID: exporterMSP, Name: "Exporter", Capacities: []Capacity{CapacityExporter}},
		{MSPID: outsiderMSP, Name: "Other", Capacities: []Capacity{CapacityExporter, CapacityRetailer}},
		{MSPID: buyerMSP, Name: "Retailer", Capacities: []Capacity{CapacityRetailer}},
	}}}
)

// validNew is a creation request that passes every rule; tests change one
// thing at a time.
func validNew() NewShipment {
	return NewShipment{
		ID:       "SHP-2026-0001",
		Buyer:    buyerMSP,
		Carrier:  carrierMSP,
		BuyerRef: "ACME-PO-7781",
		Product: Product{
			GTIN: "4006381333931", Lot: "L-42", Description: "Green coffee",
			Quantity: 320, Unit: "bag",
		},
		Origin:             Place{Name: "Santos", Country: "BR"},
		Destination:        Place{Name: "Hamburg", Country: "DE", GLN: "4012345000009"},
		ColdChain:          ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30},
		ExpectedDeliveryAt: t0.Add(10 * 24 * time.Hour),
		Terms: &Terms{Currency: "EUR", InvoiceAmountMinor: 1_000_000, LatePenaltyBpsPerDay: 100,
			LatePenaltyCapBps: 1_000, BreachRefundBps: 2_500},
	}
}

// created returns a fresh CREATED shipment.
func created(t *testing.T) *Shipment {
	t.Helper()
	s, err := Create(validNew(), exporter, t0, members)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

// inStatus drives a new shipment to status along the normal path, with the
// carrier as custodian once in transit.
func inStatus(t *testing.T, st Status) *Shipment {
	t.Helper()
	s := created(t)
	// Every step at t0: the carrier holds the goods from t0, so readings
	// dated from t0 on fall inside its custody.
	at := t0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("drive to %s: %v", st, err)
		}
	}
	switch st {
	case StatusCreated:
	case StatusCancelled:
		must(s.Cancel(exporter, at, "buyer withdrew the order"))
	default:
		must(s.Ship(exporter, at))
		if st == StatusShipped {
			break
		}
		must(s.HandOver(exporter, at, carrierMSP, members))
		switch st {
		case StatusDelivered:
			must(s.Deliver(buyer, at))
		case StatusRejected:
			must(s.Reject(buyer, at, "damaged"))
		}
	}
	if s.Status != st {
		t.Fatalf("drove to %s, got %s", st, s.Status)
	}
	return s
}

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %s", got, err, code)
	}
}
