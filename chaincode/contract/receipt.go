package contract

import (
	"encoding/json"
	"fmt"

	"github.com/shiptrace/shiptrace/shipment"
)

// Receipt is what every shipment write returns: which shipment, its status
// and version after the write, and the transaction. It is small on purpose.
// Fabric keeps a transaction's result in the block, inside the proposal
// response payload that every endorser signs, next to the write set that
// already holds the whole record; returning the record as well cost every
// write about 1 KB more in every peer's ledger (docs/contract.md, "What a
// write returns"). A client that wants the record reads it; the gateway does
// so after the commit when asked.
type Receipt struct {
	ShipmentID string          `json:"shipmentId"`
	Status     shipment.Status `json:"status,omitempty"`
	Version    int64           `json:"version,omitempty"`
	TxID       string          `json:"txId"`
	Readings   int             `json:"readings,omitempty"`  // RecordReadings: readings in the batch
	Late       int             `json:"late,omitempty"`      // RecordReadings: of which at or before their sensor's latest
	Duplicate  bool            `json:"duplicate,omitempty"` // RecordReadings, OpenClaim: already recorded; nothing changed
	ClaimID    string          `json:"claimId,omitempty"`   // OpenClaim: the claim recorded (TxID: the transaction that first did)
	// RecordReadings, to a role that may read shipments: whether the batch
	// changed the record (registered a sensor or found the first breach: a
	// version in its history) and the verdict after it. A batch reads only
	// its own sensors, so it cannot tell the whole cold chain; ReadShipment
	// does.
	UpdatedRecord bool               `json:"updatedRecord,omitempty"`
	ColdChain     *ReadingsColdChain `json:"coldChain,omitempty"`
	Registered    []string           `json:"registered,omitempty"` // RegisterSensors: the sensors it added
}

// receipt describes s after this transaction as the caller may see it: a
// role that may not read shipments (a sensor) learns neither the status nor
// the version, only that its write is on the ledger.
func (t *txn) receipt(s *shipment.Shipment) Receipt {
	r := Receipt{ShipmentID: s.ID, TxID: t.stub.GetTxID()}
	if shipment.RoleAllows(t.caller.Role, shipment.OpRead) {
		r.Status, r.Version = s.Status, s.Version
	}
	return r
}

func (r Receipt) encode() (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode receipt for %s: %w", r.ShipmentID, err)
	}
	return string(b), nil
}
