package contract

import (
	"fmt"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/shiptrace/shiptrace/shipment"
)

// Storage layout (see chaincode/README.md for the reasons):
//
//	shipment record   composite  "shipment"          [id]                  -> Shipment JSON
//	status index      composite  "shipment~status"   [status, id]          -> 0x00
//	party indexes     composite  "shipment~exporter" [msp, status, id]     -> 0x00
//	                             "shipment~buyer"    [msp, status, id]
//	                             "shipment~carrier"  [msp, status, id]
//	sensor summary    composite  "coldchain~sensor"  [id, sensor]          -> SensorSummary JSON
//	claim             composite  "shipment~claim"    [id, claim]           -> Claim JSON
//	reading chunks    simple     "readings~<id>~<hour>~<hash>"             -> chunk JSON
//	buyer contact     private    _implicit_org_<exporter> "contact~<id>"  -> contact JSON
//	EUDR plots        private    _implicit_org_<exporter> and _implicit_org_<buyer>
//	                             "plots~<id>"                              -> canonical GeoJSON
//	plots summary     composite  "eudr~plots"        [id]                  -> PlotsSummary JSON
//
// Reading chunks use simple keys because composite keys cannot be range
// queried by the shim, and the chunk read needs a time range.
const (
	shipmentObject = "shipment"
	idxStatus      = "shipment~status"
	idxExporter    = "shipment~exporter"
	idxBuyer       = "shipment~buyer"
	idxCarrier     = "shipment~carrier"
	sensorObject   = "coldchain~sensor"

	readingsPrefix = "readings~"
	contactPrefix  = "contact~"
)

// indexValue is stored under index keys: Fabric treats an empty value as a
// delete, so indexes hold one zero byte.
var indexValue = []byte{0x00}

func shipmentKey(stub shim.ChaincodeStubInterface, id string) (string, error) {
	k, err := stub.CreateCompositeKey(shipmentObject, []string{id})
	if err != nil {
		return "", fmt.Errorf("shipment key for %s: %w", id, err)
	}
	return k, nil
}

func sensorKey(stub shim.ChaincodeStubInterface, id, sensor string) (string, error) {
	k, err := stub.CreateCompositeKey(sensorObject, []string{id, sensor})
	if err != nil {
		return "", fmt.Errorf("sensor key %s of %s: %w", sensor, id, err)
	}
	return k, nil
}

// indexKeys lists the index entries of s in a fixed order, so index writes
// are deterministic.
func indexKeys(stub shim.ChaincodeStubInterface, s *shipment.Shipment) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	st := string(s.Status)
	specs := []struct {
		object string
		attrs  []string
	}{
		{idxStatus, []string{st, s.ID}},
		{idxExporter, []string{s.Exporter, st, s.ID}},
		{idxBuyer, []string{s.Buyer, st, s.ID}},
	}
	if s.Carrier != "" {
		specs = append(specs, struct {
			object string
			attrs  []string
		}{idxCarrier, []string{s.Carrier, st, s.ID}})
	}
	keys := make([]string, 0, len(specs))
	for _, sp := range specs {
		k, err := stub.CreateCompositeKey(sp.object, sp.attrs)
		if err != nil {
			return nil, fmt.Errorf("index key %s for %s: %w", sp.object, s.ID, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func contactKey(id string) string { return contactPrefix + id }

func implicitCollection(msp string) string { return "_implicit_org_" + msp }
