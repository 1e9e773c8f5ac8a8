package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/shipment"
)

// A list view reads the contract's pages (listPageSize each) until it has
// listWant matches or has read listPages pages: the filters the contract has
// no index for (counterpart, breached, overdue, buyer reference) are applied
// here, so a view costs at most listPages reads whatever they match.
const (
	listPageSize = 50
	listWant     = 25
	listPages    = 10
)

// filter is the list's query.
type filter struct {
	Status      string
	Counterpart string
	Breached    bool
	Overdue     bool
	Q           string // a shipment ID or a buyer reference
}

// listing is one list view.
type listing struct {
	Filter filter
	Items  []shipment.Shipment
	Next   string // URL of the next view, "" at the end
}

func filterOf(q url.Values) (filter, error) {
	f := filter{Status: strings.TrimSpace(q.Get("status")), Counterpart: strings.TrimSpace(q.Get("counterpart")),
		Breached: q.Get("breached") == "on", Overdue: q.Get("overdue") == "on", Q: strings.TrimSpace(q.Get("q"))}
	if f.Status != "" && !shipment.Status(f.Status).Valid() {
		return f, shipment.Errorf(shipment.Invalid, "status: %q is not a status", f.Status)
	}
	if f.Counterpart != "" {
		if err := shipment.ValidateMSPID("counterpart", f.Counterpart); err != nil {
			return f, err
		}
	}
	if len(f.Q) > 128 {
		return f, shipment.Errorf(shipment.Invalid, "search: at most 128 characters")
	}
	return f, nil
}

func (f filter) match(s *shipment.Shipment) bool {
	if f.Counterpart != "" && s.Exporter != f.Counterpart && s.Buyer != f.Counterpart &&
		s.Carrier != f.Counterpart && s.Custodian != f.Counterpart {
		return false
	}
	if f.Breached && s.ColdChainVerdict.BreachedAt.IsZero() && s.ColdChain.BreachedAt.IsZero() {
		return false
	}
	if f.Overdue && !s.Overdue {
		return false
	}
	if f.Q != "" {
		q := strings.ToLower(f.Q)
		return strings.Contains(strings.ToLower(s.ID), q) || strings.Contains(strings.ToLower(s.BuyerRef), q)
	}
	return true
}

func (f filter) query(cursor string) string {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "counterpart": f.Counterpart, "q": f.Q, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Breached {
		q.Set("breached", "on")
	}
	if f.Overdue {
		q.Set("overdue", "on")
	}
	return q.Encode()
}

// list is the console's home: the sign-in form, or the shipment list.
func (c *Console) list(ec echo.Context) error {
	if _, ok := ec.Get(ctxSession).(session); !ok {
		return c.renderSignIn(ec, http.StatusOK, "")
	}
	v := viewFor(ec)
	f, err := filterOf(ec.QueryParams())
	v.List = &listing{Filter: f}
	if err != nil {
		v.Problem = problemOf(err)
		return c.render(ec, http.StatusBadRequest, "list", v)
	}
	if f.Q != "" && ec.QueryParam("cursor") == "" {
		// An exact ID is one read, wherever the record sits in the index.
		if raw, p := c.call(ec, http.MethodGet, "/v1/shipments/"+url.PathEscape(f.Q), nil, nil, ""); p == nil {
			var s shipment.Shipment
			if json.Unmarshal(raw, &s) == nil && f.match(&s) {
				v.List.Items = []shipment.Shipment{s}
				return c.render(ec, http.StatusOK, "list", v)
			}
		}
	}
	cursor := ec.QueryParam("cursor")
	for range listPages {
		q := url.Values{"pageSize": {strconv.Itoa(listPageSize)}}
		if f.Status != "" {
			q.Set("status", f.Status)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		raw, p := c.call(ec, http.MethodGet, "/v1/shipments", q, nil, "")
		if p != nil {
			v.Problem = p
			return c.render(ec, p.Status, "list", v)
		}
		var page struct {
			Items      []shipment.Shipment `json:"items"`
			NextCursor string              `json:"nextCursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return err
		}
		for i := range page.Items {
			if f.match(&page.Items[i]) {
				v.List.Items = append(v.List.Items, page.Items[i])
			}
		}
		cursor = page.NextCursor
		if cursor == "" || len(v.List.Items) >= listWant {
			break
		}
	}
	if cursor != "" {
		v.List.Next = Path + "/?" + f.query(cursor)
	}
	return c.render(ec, http.StatusOK, "list", v)
}
