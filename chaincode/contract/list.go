package contract

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// Page sizes accepted by the list operations.
const (
	MaxListPage     = 200
	MaxReadingsPage = 1000
	// MaxHistoryPage bounds a ShipmentHistory page: each entry carries a
	// whole version of the record (1-2 KB).
	MaxHistoryPage = 100
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

// HistoryPage is one page of ShipmentHistory, newest first. An empty
// bookmark means there is no further page.
type HistoryPage struct {
	Items    []HistoryEntry `json:"items"`
	Bookmark string         `json:"bookmark"`
}

// HistoryEntry is one committed change of a shipment (shipment.HistoryEntry,
// the wire form its readers decode too).
type HistoryEntry = shipment.HistoryEntry

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

// ShipmentHistory returns a page of a shipment's committed versions, newest
// first, each with its transaction, time and the organisation that made it,
// resuming after bookmark (empty for the newest). The order is Fabric's:
// GetHistoryForKey iterates from the newest change to the oldest, and it
// cannot seek. So a page resumes by walking from the newest change again,
// skipping entries until the bookmarked transaction; a page at depth d costs
// the peer d+pageSize history entries (each a read of its transaction from
// the block store), whatever the total. The peer hands them to the
// chaincode in batches of 100 (fixed in Fabric 2.5: MaxResultLimit in
// core/chaincode/chaincode_support.go), so even the first page costs up to
// 101 entries. The peer ends the iteration after
// ledger.state.totalQueryLimit entries: versions deeper than that cannot be
// read through the chaincode. Measured costs are in chaincode/README.md.
func (c *Contract) ShipmentHistory(ctx contractapi.TransactionContextInterface, id string, pageSize int, bookmark string) (string, error) {
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
	if err := checkPageSize(pageSize, MaxHistoryPage); err != nil {
		return "", err
	}
	after, err := decodeHistoryBookmark(bookmark)
	if err != nil {
		return "", err
	}
	key, err := shipmentKey(t.stub, id)
	if err != nil {
		return "", err
	}
	page, err := historyPage(t.stub, id, key, pageSize, after)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(page)
	if err != nil {
		return "", fmt.Errorf("encode history of %s: %w", id, err)
	}
	return string(b), nil
}

// historyMark is where a history page ended: the transaction of its last
// entry and that entry's position counted from the newest (1-based) when it
// was returned. Versions are only ever added at the newest end, so the
// transaction is found again at that position or deeper.
type historyMark struct {
	position int
	txID     string
}

// String renders the bookmark, "h1.<position>.<txID>".
func (m historyMark) String() string {
	return "h1." + strconv.Itoa(m.position) + "." + m.txID
}

func decodeHistoryBookmark(s string) (*historyMark, error) {
	if s == "" {
		return nil, nil
	}
	bad := shipment.Errorf(shipment.Invalid, "bookmark: not a bookmark ShipmentHistory returned")
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != "h1" || len(parts[2]) == 0 || len(parts[2]) > 128 {
		return nil, bad
	}
	pos, err := strconv.Atoi(parts[1])
	if err != nil || pos < 1 || strconv.Itoa(pos) != parts[1] {
		return nil, bad
	}
	for _, r := range parts[2] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return nil, bad
		}
	}
	return &historyMark{position: pos, txID: parts[2]}, nil
}

// historyPage walks the key's history from the newest change, skips up to
// and including the bookmarked entry, and decodes the next pageSize. It stops
// reading as soon as the page is full and it knows whether more follow.
func historyPage(stub shim.ChaincodeStubInterface, id, key string, pageSize int, after *historyMark) (HistoryPage, error) {
	it, err := stub.GetHistoryForKey(key)
	if err != nil {
		return HistoryPage{}, fmt.Errorf("history of %s: %w", id, err)
	}
	defer it.Close()
	page := HistoryPage{Items: []HistoryEntry{}}
	position := 0
	if after != nil {
		found := false
		for !found && it.HasNext() {
			m, err := it.Next()
			if err != nil {
				return HistoryPage{}, fmt.Errorf("history of %s: %w", id, err)
			}
			position++
			found = m.GetTxId() == after.txID
		}
		if !found || position < after.position {
			return HistoryPage{}, shipment.Errorf(shipment.Invalid,
				"bookmark: transaction %s is not in the history of shipment %s where the bookmark says (a bookmark of another shipment, or deeper than this peer iterates: ledger.state.totalQueryLimit)",
				after.txID, id)
		}
	}
	for len(page.Items) < pageSize && it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return HistoryPage{}, fmt.Errorf("history of %s: %w", id, err)
		}
		position++
		e := HistoryEntry{TxID: m.GetTxId(), Time: m.GetTimestamp().AsTime().UTC(), IsDelete: m.GetIsDelete()}
		if !m.GetIsDelete() {
			var v shipment.Shipment
			if err := json.Unmarshal(m.GetValue(), &v); err != nil {
				return HistoryPage{}, fmt.Errorf("history of %s: decode %s: %w", id, m.GetTxId(), err)
			}
			e.MSPID, e.Shipment = v.UpdatedBy, &v
		}
		page.Items = append(page.Items, e)
	}
	if len(page.Items) == pageSize && it.HasNext() {
		page.Bookmark = historyMark{position: position, txID: page.Items[len(page.Items)-1].TxID}.String()
	}
	return page, nil
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
