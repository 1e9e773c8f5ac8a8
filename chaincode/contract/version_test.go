package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// TestContractVersionNamesThePackage: the read returns the package ID the
// server was started with (what an upgrade test compares before and after),
// and a caller without a role, or with one that may not read the registry,
// is refused as everywhere else.
func TestContractVersionNamesThePackage(t *testing.T) {
	w := newWorld(t)
	const id = "shiptrace_1.1:0123abcd"
	cc, err := contractapi.NewChaincode(New(nil, WithClock(func() time.Time { return w.now }, shipment.DefaultClockTolerance), WithPackageID(id)))
	if err != nil {
		t.Fatal(err)
	}
	w.cc = cc
	var got struct {
		PackageID string `json:"packageId"`
	}
	if err := json.Unmarshal([]byte(w.ok(carrierMSP, "ContractVersion")), &got); err != nil {
		t.Fatal(err)
	}
	if got.PackageID != id {
		t.Fatalf("ContractVersion = %q, want %q", got.PackageID, id)
	}
	w.refusedCall(shipment.Forbidden, call{msp: exporterMSP, role: noAttribute, fn: "ContractVersion"})
	w.refusedCall(shipment.Forbidden, call{msp: carrierMSP, role: shipment.RoleSensor, fn: "ContractVersion"})

	// A server started without its package ID says so rather than answer "".
	w2 := newWorld(t)
	w2.refused(shipment.NotFound, exporterMSP, "ContractVersion")
}
