package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/shipment"
)

// action is one write the console offers, named as the REST route's last
// segment; Op is what shipment.RoleAllows is asked.
type action struct {
	Name  string
	Label string
	Op    shipment.Operation
	// Idem is a fresh Idempotency-Key per rendered form: a form sent twice
	// (a double click, a reload) is answered from the API's journal.
	Idem string
}

var actions = []action{
	{Name: "ship", Label: "Ship", Op: shipment.OpShip},
	{Name: "handover", Label: "Hand over", Op: shipment.OpHandOver},
	{Name: "readings", Label: "Record readings", Op: shipment.OpRecordReadings},
	{Name: "sensors", Label: "Pair loggers", Op: shipment.OpRegisterSensors},
	{Name: "documents", Label: "Attach a document", Op: shipment.OpAttachDocument},
	{Name: "deliver", Label: "Deliver", Op: shipment.OpDeliver},
	{Name: "reject", Label: "Reject", Op: shipment.OpReject},
	{Name: "cancel", Label: "Cancel", Op: shipment.OpCancel},
}

// allowed are the actions the key may take on s by the contract's own
// rules: its access rule (shipment.Authorize: the key's role, then its
// organisation's position on the record as read, e.g. only the custodian
// hands over) and its status rule (shipment.StatusAllows: a shipped
// shipment cannot be shipped again); the others are not shown. The
// contract still decides, on the record as it is when the action arrives.
func allowed(k api.Key, s *shipment.Shipment) []action {
	var out []action
	for _, a := range actions {
		if s.StatusAllows(a.Op) && shipment.Authorize(shipment.Caller{MSPID: k.MSPID, Role: k.Role}, s, a.Op) == nil {
			a.Idem = randomToken()
			out = append(out, a)
		}
	}
	return out
}

// detail shows one shipment: the tracking page's detail view read as the
// signed-in key's identity, the member's facts around it, and the actions.
func (c *Console) detail(ec echo.Context) error {
	return c.showShipment(ec, http.StatusOK, nil)
}

func (c *Console) showShipment(ec echo.Context, status int, failed *api.Problem) error {
	v := viewFor(ec)
	v.Problem = failed
	for _, a := range actions { // only an action's own label: ?done= must not put any text on the page
		if a.Name == ec.QueryParam("done") {
			v.Done = a.Label
		}
	}
	id := ec.Param("id")
	raw, p := c.call(ec, http.MethodGet, "/v1/shipments/"+url.PathEscape(id), nil, nil, "")
	if p != nil {
		v.Problem = p
		return c.render(ec, p.Status, "shipment", v)
	}
	var s shipment.Shipment
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("console: decode shipment %s: %w", id, err)
	}
	v.Ship = &s
	d, err := web.ReadDetail(ec.Request().Context(), c.o.Ledger, v.Key.Identity, s, c.o.Now())
	if err != nil {
		return c.unavailable(ec, fmt.Errorf("console: read detail of %s: %w", id, err))
	}
	var b bytes.Buffer
	if err := c.o.Pages.RenderDetail(&b, "en", d); err != nil {
		return fmt.Errorf("console: render detail of %s: %w", id, err)
	}
	v.Detail = template.HTML(b.String()) // the tracking page's own template: already escaped
	v.Actions = allowed(v.Key, &s)
	// The buyer's claims, if any: a page without them is still the page.
	if raw, p := c.call(ec, http.MethodGet, "/v1/shipments/"+url.PathEscape(id)+"/claims", nil, nil, ""); p == nil {
		var page struct{ Items []shipment.Claim }
		if json.Unmarshal(raw, &page) == nil {
			v.Claims = page.Items
		}
	}
	return c.render(ec, status, "shipment", v)
}

// act runs one action through the REST API's route for it, with the
// form's Idempotency-Key; a refusal shows the problem's title and detail on
// the shipment's page.
func (c *Console) act(ec echo.Context) error {
	id, name := ec.Param("id"), ec.Param("action")
	var a *action
	for i := range actions {
		if actions[i].Name == name {
			a = &actions[i]
		}
	}
	if a == nil {
		return c.refuse(ec, http.StatusNotFound, "No such action", "")
	}
	body, err := bodyFor(ec, a.Name)
	if err != nil {
		return c.showShipment(ec, http.StatusBadRequest, problemOf(err))
	}
	path := "/v1/shipments/" + url.PathEscape(id) + "/" + a.Name
	var q url.Values
	if up, ok := body.(csvUpload); ok {
		q = up.query
	}
	if _, p := c.call(ec, http.MethodPost, path, q, body, ec.Request().PostFormValue("idem")); p != nil {
		return c.showShipment(ec, p.Status, p)
	}
	return ec.Redirect(http.StatusSeeOther, Path+"/shipments/"+url.PathEscape(id)+"?done="+a.Name)
}

// bodyFor turns an action's form into its REST request body. The API
// validates it again; this only reads the form.
func bodyFor(ec echo.Context, name string) (any, error) {
	f := func(k string) string { return strings.TrimSpace(ec.Request().PostFormValue(k)) }
	switch name {
	case "handover":
		return map[string]string{"toMSP": f("toMSP")}, nil
	case "reject", "cancel":
		return map[string]string{"reason": f("reason")}, nil
	case "documents":
		doc := map[string]string{"type": f("type"), "sha256": strings.ToLower(f("sha256"))}
		if u := f("uri"); u != "" {
			doc["uri"] = u
		}
		return doc, nil
	case "sensors":
		var ids []string
		for _, s := range strings.FieldsFunc(f("sensors"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
			ids = append(ids, s)
		}
		return map[string][]string{"sensors": ids}, nil
	case "readings":
		file, _, err := ec.Request().FormFile("file")
		if err != nil {
			return nil, shipment.Errorf(shipment.Invalid, "file: choose a CSV or JSON file of readings")
		}
		defer file.Close()
		b, err := io.ReadAll(file)
		if err != nil {
			return nil, fmt.Errorf("read the uploaded file: %w", err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
			rs, err := parseReadings(t)
			if err != nil {
				return nil, err
			}
			return map[string][]shipment.Reading{"readings": rs}, nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, shipment.Errorf(shipment.Invalid, "file: it is empty")
		}
		// Anything else is a logger's CSV file, which the API reads itself
		// (loggercsv): the same columns, units and line-numbered refusals as
		// for a client that posts text/csv.
		q := url.Values{}
		for _, k := range []string{"sensor", "tz"} {
			if v := f(k); v != "" {
				q.Set(k, v)
			}
		}
		return csvUpload{data: b, query: q}, nil
	}
	return nil, nil // ship, deliver: no body
}

// csvUpload is a readings file the console passes on as text/csv.
type csvUpload struct {
	data  []byte
	query url.Values
}

// parseReadings reads a JSON readings file: an array of readings, or
// {"readings": [...]} as the API takes.
func parseReadings(t []byte) ([]shipment.Reading, error) {
	if t[0] == '[' {
		var rs []shipment.Reading
		if err := json.Unmarshal(t, &rs); err != nil {
			return nil, shipment.Errorf(shipment.Invalid, "file: not a JSON array of readings: %v", err)
		}
		return rs, nil
	}
	var in struct {
		Readings []shipment.Reading `json:"readings"`
	}
	if err := json.Unmarshal(t, &in); err != nil {
		return nil, shipment.Errorf(shipment.Invalid, "file: not a JSON object with readings: %v", err)
	}
	return in.Readings, nil
}

// unavailable answers 503 when the ledger could not be read: the cause is
// logged for the operator with the request ID, not shown.
func (c *Console) unavailable(ec echo.Context, cause error) error {
	c.o.Logger.ErrorContext(ec.Request().Context(), "console page failed",
		slog.String("request_id", ec.Response().Header().Get(echo.HeaderXRequestID)), slog.String("error", cause.Error()))
	ec.Response().Header().Set("Retry-After", "30")
	return c.refuse(ec, http.StatusServiceUnavailable, "The ledger could not be read", "Try again in a moment.")
}

// problemOf shows a refusal of the form's own input as the API would.
func problemOf(err error) *api.Problem {
	var e *shipment.Error
	if errors.As(err, &e) {
		return &api.Problem{Title: "Invalid request", Detail: e.Message, Status: http.StatusBadRequest}
	}
	return &api.Problem{Title: "Invalid request", Detail: err.Error(), Status: http.StatusBadRequest}
}
