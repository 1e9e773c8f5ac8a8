package api

import "github.com/shiptrace/shiptrace/shipment"

// mayView says whether the key k may see a transaction submitted through the
// API key named submitter, signed by the gateway identity signer, for the
// organisation mspID. A transaction's result is the shipment as it was
// written, so beyond the key that submitted it (or another key of the same
// Fabric identity, which the ledger cannot tell apart) only keys of the same
// organisation whose role may read shipments see it: a sensor's key sees its
// own uploads and nothing else, and no organisation sees another's
// transactions through this route.
func mayView(k Key, submitter, signer, mspID string) bool {
	switch {
	case submitter != "" && submitter == k.Name:
		return true
	case signer != "" && signer == k.Identity:
		return true
	}
	return mspID != "" && mspID == k.MSPID && shipment.RoleAllows(k.Role, shipment.OpRead)
}
