package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// Page sizes accepted by the list operations.
const (
	MaxListPage     = 200
	MaxReadingsPage = 1000
)

// Filter selects shipments in ListShipments; empty fields match everything.
type Filter struct {
	Status   shipment.Status `json:"status,omitempty"`
	Exporter string          `json:"exporter,omitempty"`
	Buyer    string          `json:"buyer,omitempty"`
	Carrier  string          `json:"carrier,omitempty"`
}

// ShipmentPage is one page of ListShipments. An empty bookmark means there is
// no further page.
type ShipmentPage struct {
	Items    []shipment.Shipment `json:"items"`
	Bookmark string              `json:"bookmark"`
}

// ReadingPage is one page of Readings. An empty bookmark means there is no
// further page.
type ReadingPage struct {
	Items    []shipment.Reading `json:"items"`
	Bookmark string             `json:"bookmark"`
}

// HistoryEntry is one committed change of a shipment.
type HistoryEntry struct {
	TxID     string             `json:"txId"`
	Time     time.Time          `json:"time"`
	MSPID    string             `json:"mspId"`
	IsDelete bool               `json:"isDelete,omitempty"`
	Shipment *shipment.Shipment `json:"shipment,omitempty"`
}

func checkPageSize(n, limit int) error {
	if n < 1 || n > limit {
		return shipment.Errorf(shipment.Invalid, "pageSize: must be between 1 and %d", limit)
	}
	return nil
}

func decodeFilter(s string) (Filter, error) {
	var f Filter
	if s == "" {
		return f, nil
	}
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return f, shipment.Errorf(shipment.Invalid, "filter: must be a JSON object with status, exporter, buyer or carrier")
	}
	if f.Status != "" && !f.Status.Valid() {
		return f, shipment.Errorf(shipment.Invalid, "filter.status: %q is not a status", f.Status)
	}
	for _, p := range []struct{ field, v string }{{"filter.exporter", f.Exporter}, {"filter.buyer", f.Buyer}, {"filter.carrier", f.Carrier}} {
		if p.v != "" {
			if err := shipment.ValidateMSPID(p.field, p.v); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

func (f Filter) match(s *shipment.Shipment) bool {
	return (f.Status == "" || s.Status == f.Status) &&
		(f.Exporter == "" || s.Exporter == f.Exporter) &&
		(f.Buyer == "" || s.Buyer == f.Buyer) &&
		(f.Carrier == "" || s.Carrier == f.Carrier)
}

// plan picks the index that answers f: a party index (with the status as a
// second attribute when given), else the status index, else the records
// themselves. Filters on a second party are applied to the page, so such a
// page may hold fewer items than asked for; keep reading while the bookmark
// is not empty.
func (f Filter) plan() (object string, attrs []string) {
	withStatus := func(msp string) []string {
		if f.Status != "" {
			return []string{msp, string(f.Status)}
		}
		return []string{msp}
	}
	switch {
	case f.Exporter != "":
		return idxExporter, withStatus(f.Exporter)
	case f.Buyer != "":
		return idxBuyer, withStatus(f.Buyer)
	case f.Carrier != "":
		return idxCarrier, withStatus(f.Carrier)
	case f.Status != "":
		return idxStatus, []string{string(f.Status)}
	}
	return shipmentObject, nil
}

// ListShipments returns a page of shipments matching filter (JSON Filter),
// ordered by the index used, resuming after bookmark.
func (c *Contract) ListShipments(ctx contractapi.TransactionContextInterface, filter string, pageSize int, bookmark string) (string, error) {
	t, err := c.begin(ctx, shipment.OpList)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, nil, shipment.OpList); err != nil {
		return "", err
	}
	f, err := decodeFilter(filter)
	if err != nil {
		return "", err
	}
	if err := checkPageSize(pageSize, MaxListPage); err != nil {
		return "", err
	}
	page, err := listShipments(t.stub, f, int32(pageSize), bookmark)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(page)
	if err != nil {
		return "", fmt.Errorf("encode shipment page: %w", err)
	}
	return string(b), nil
}

func listShipments(stub shim.ChaincodeStubInterface, f Filter, pageSize int32, bookmark string) (ShipmentPage, error) {
	object, attrs := f.plan()
	it, meta, err := stub.GetStateByPartialCompositeKeyWithPagination(object, attrs, pageSize, bookmark)
	if err != nil {
		return ShipmentPage{}, fmt.Errorf("list shipments: %w", err)
	}
	defer it.Close()
	page := ShipmentPage{Items: []shipment.Shipment{}}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return ShipmentPage{}, fmt.Errorf("list shipments: %w", err)
		}
		value := kv.Value
		if object != shipmentObject {
			_, parts, err := stub.SplitCompositeKey(kv.Key)
			if err != nil || len(parts) == 0 {
				return ShipmentPage{}, fmt.Errorf("list shipments: malformed index key")
			}
			key, err := shipmentKey(stub, parts[len(parts)-1])
			if err != nil {
				return ShipmentPage{}, err
			}
			if value, err = stub.GetState(key); err != nil {
				return ShipmentPage{}, fmt.Errorf("list shipments: %w", err)
			}
			if value == nil {
				continue
			}
		}
		var s shipment.Shipment
		if err := json.Unmarshal(value, &s); err != nil {
			return ShipmentPage{}, fmt.Errorf("list shipments: decode %s: %w", kv.Key, err)
		}
		if f.match(&s) {
			if s.ColdChain, err = newLedgerColdChain(stub, s.ID).summary(s.ColdChainVerdict); err != nil {
				return ShipmentPage{}, err
			}
			page.Items = append(page.Items, s)
		}
	}
	if meta != nil && meta.FetchedRecordsCount >= pageSize {
		page.Bookmark = meta.Bookmark
	}
	return page, nil
}

// ShipmentHistory returns every committed version of a shipment, oldest
// first, with the transaction, its time and the organisation that made it.
func (c *Contract) ShipmentHistory(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	t, err := c.begin(ctx, shipment.OpHistory)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpHistory); err != nil {
		return "", err
	}
	key, err := shipmentKey(t.stub, id)
	if err != nil {
		return "", err
	}
	it, err := t.stub.GetHistoryForKey(key)
	if err != nil {
		return "", fmt.Errorf("history of %s: %w", id, err)
	}
	defer it.Close()
	entries := []HistoryEntry{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return "", fmt.Errorf("history of %s: %w", id, err)
		}
		e := HistoryEntry{TxID: m.GetTxId(), Time: m.GetTimestamp().AsTime().UTC(), IsDelete: m.GetIsDelete()}
		if !m.GetIsDelete() {
			var v shipment.Shipment
			if err := json.Unmarshal(m.GetValue(), &v); err != nil {
				return "", fmt.Errorf("history of %s: decode %s: %w", id, m.GetTxId(), err)
			}
			e.MSPID, e.Shipment = v.UpdatedBy, &v
		}
		entries = append(entries, e)
	}
	// Fabric returns the newest change first.
	slices.Reverse(entries)
	b, err := json.Marshal(entries)
	if err != nil {
		return "", fmt.Errorf("encode history of %s: %w", id, err)
	}
	return string(b), nil
}

// Readings returns a page of a shipment's readings in time order, optionally
// limited to [from, to] (RFC 3339, empty for open), resuming after bookmark.
func (c *Contract) Readings(ctx contractapi.TransactionContextInterface, id string, from string, to string, pageSize int, bookmark string) (string, error) {
	t, err := c.begin(ctx, shipment.OpReadings)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpReadings); err != nil {
		return "", err
	}
	if err := checkPageSize(pageSize, MaxReadingsPage); err != nil {
		return "", err
	}
	var fromT, toT time.Time
	if from != "" {
		if fromT, err = time.Parse(time.RFC3339Nano, from); err != nil {
			return "", shipment.Errorf(shipment.Invalid, "from: must be an RFC 3339 time or empty")
		}
	}
	if to != "" {
		if toT, err = time.Parse(time.RFC3339Nano, to); err != nil {
			return "", shipment.Errorf(shipment.Invalid, "to: must be an RFC 3339 time or empty")
		}
	}
	if !fromT.IsZero() && !toT.IsZero() && toT.Before(fromT) {
		return "", shipment.Errorf(shipment.Invalid, "to: must not be before from")
	}
	items, next, err := readingsPage(t.stub, id, fromT, toT, pageSize, bookmark)
	if err != nil {
		return "", err
	}
	if items == nil {
		items = []shipment.Reading{}
	}
	b, err := json.Marshal(ReadingPage{Items: items, Bookmark: next})
	if err != nil {
		return "", fmt.Errorf("encode readings of %s: %w", id, err)
	}
	return string(b), nil
}
