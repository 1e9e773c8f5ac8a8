package shipment

import "time"

// HistoryEntry is one committed change of a shipment as the contract's
// ShipmentHistory lists it: the transaction, its time, the organisation
// that submitted it and the record it left. It lives in the domain so the
// contract that writes it and the services that read it (the tracking
// page) share one definition.
type HistoryEntry struct {
	TxID     string    `json:"txId"`
	Time     time.Time `json:"time"`
	MSPID    string    `json:"mspId"`
	IsDelete bool      `json:"isDelete,omitempty"`
	Shipment *Shipment `json:"shipment,omitempty"`
}
