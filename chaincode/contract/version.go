package contract

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// ContractVersion returns {"packageId": "..."}: the chaincode package whose
// server answered. The package ID carries the label (name and version) and
// the hash of the package, which follows the contract's source, so after an
// upgrade it proves which code endorses. It reads nothing from the ledger;
// whoever may read the member registry may ask (the same role check).
func (c *Contract) ContractVersion(ctx contractapi.TransactionContextInterface) (string, error) {
	if _, err := c.begin(ctx, shipment.OpReadMembers); err != nil {
		return "", err
	}
	if c.packageID == "" {
		return "", shipment.Errorf(shipment.NotFound, "this chaincode server was started without its package ID")
	}
	b, err := json.Marshal(struct {
		PackageID string `json:"packageId"`
	}{c.packageID})
	if err != nil {
		return "", fmt.Errorf("encode contract version: %w", err)
	}
	return string(b), nil
}
