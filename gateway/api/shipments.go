package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

// transientContact is the transient-map key the contract reads the buyer
// contact from.
const transientContact = "buyerContact"

type createRequest struct {
	shipment.NewShipment
	BuyerContact *shipment.Contact `json:"buyerContact,omitempty"`
}

func (s *Server) createShipment(c echo.Context) error {
	caller := callerOf(c)
	var in createRequest
	if err := decodeJSON(bodyOf(c), &in); err != nil {
		return err
	}
	if err := in.Validate(caller.MSPID, s.now()); err != nil {
		return err
	}
	if in.BuyerContact != nil {
		if err := in.BuyerContact.Validate(); err != nil {
			return err
		}
	}
	arg, err := json.Marshal(in.NewShipment)
	if err != nil {
		return err
	}
	w := write{
		op: string(shipment.OpCreate), target: in.ID, args: []string{string(arg)},
		status: http.StatusCreated, location: "/v1/shipments/" + url.PathEscape(in.ID),
	}
	if in.BuyerContact != nil {
		contact, err := json.Marshal(in.BuyerContact)
		if err != nil {
			return err
		}
		w.contact = contact
	}
	return s.submit(c, w)
}

func (s *Server) recordReadings(c echo.Context) error {
	if isCSV(c.Request()) {
		return s.recordCSV(c)
	}
	var in struct {
		Readings []shipment.Reading `json:"readings"`
	}
	if err := decodeJSON(bodyOf(c), &in); err != nil {
		return err
	}
	for i := range in.Readings {
		in.Readings[i].Time = in.Readings[i].Time.UTC()
	}
	if err := shipment.ValidateReadings(in.Readings, s.now()); err != nil {
		return err
	}
	arg, err := json.Marshal(in.Readings)
	if err != nil {
		return err
	}
	return s.submit(c, write{op: string(shipment.OpRecordReadings), target: c.Param("id"), args: []string{c.Param("id"), string(arg)}})
}

func (s *Server) attachDocument(c echo.Context) error {
	var in struct {
		Type   string `json:"type"`
		SHA256 string `json:"sha256"`
		URI    string `json:"uri,omitempty"`
	}
	if err := decodeJSON(bodyOf(c), &in); err != nil {
		return err
	}
	if err := (shipment.Document{Type: in.Type, SHA256: in.SHA256, URI: in.URI}).Validate(); err != nil {
		return err
	}
	arg, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return s.submit(c, write{op: string(shipment.OpAttachDocument), target: c.Param("id"), args: []string{c.Param("id"), string(arg)}})
}

func (s *Server) handOver(c echo.Context) error {
	var in struct {
		ToMSP string `json:"toMSP"`
	}
	if err := decodeJSON(bodyOf(c), &in); err != nil {
		return err
	}
	if err := shipment.ValidateMSPID("toMSP", in.ToMSP); err != nil {
		return err
	}
	return s.submit(c, write{op: string(shipment.OpHandOver), target: c.Param("id"), args: []string{c.Param("id"), in.ToMSP}})
}

// registerSensors pairs loggers with a shipment (RegisterSensors).
func (s *Server) registerSensors(c echo.Context) error {
	var in struct {
		Sensors []string `json:"sensors"`
	}
	if err := decodeJSON(bodyOf(c), &in); err != nil {
		return err
	}
	if err := shipment.ValidateSensorIDs(in.Sensors); err != nil {
		return err
	}
	sensors, err := json.Marshal(in.Sensors)
	if err != nil {
		return err
	}
	return s.submit(c, write{op: string(shipment.OpRegisterSensors), target: c.Param("id"), args: []string{c.Param("id"), string(sensors)}})
}

// simple serves the writes that take nothing but the shipment id.
func (s *Server) simple(tx string) echo.HandlerFunc {
	return func(c echo.Context) error {
		if body := bodyOf(c); len(body) > 0 {
			var empty struct{}
			if err := decodeJSON(body, &empty); err != nil {
				return err
			}
		}
		return s.submit(c, write{op: tx, target: c.Param("id"), args: []string{c.Param("id")}})
	}
}

func (s *Server) withReason(tx string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in struct {
			Reason string `json:"reason"`
		}
		if err := decodeJSON(bodyOf(c), &in); err != nil {
			return err
		}
		if err := shipment.ValidateReason(in.Reason); err != nil {
			return err
		}
		return s.submit(c, write{op: tx, target: c.Param("id"), args: []string{c.Param("id"), in.Reason}})
	}
}

func (s *Server) setBuyerContact(c echo.Context) error {
	var in shipment.Contact
	if err := decodeJSON(bodyOf(c), &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	contact, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return s.submit(c, write{
		op: string(shipment.OpSetContact), target: c.Param("id"), args: []string{c.Param("id")},
		transient: map[string][]byte{transientContact: contact},
		// The contact is the exporter's personal data: only its own peers
		// may see it, so only its organisation endorses.
		endorsers: []string{callerOf(c).MSPID},
	})
}

func (s *Server) deleteBuyerContact(c echo.Context) error {
	return s.submit(c, write{op: string(shipment.OpDeleteContact), target: c.Param("id"), args: []string{c.Param("id")},
		endorsers: []string{callerOf(c).MSPID}})
}

func (s *Server) evaluate(c echo.Context, tx string, args ...string) ([]byte, error) {
	return s.ledger.Evaluate(c.Request().Context(), fabric.Request{Identity: callerOf(c).Identity, Tx: tx, Args: args})
}

func (s *Server) getShipment(c echo.Context) error {
	out, err := s.evaluate(c, string(shipment.OpRead), c.Param("id"))
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, out)
}

func (s *Server) getBuyerContact(c echo.Context) error {
	out, err := s.evaluate(c, string(shipment.OpReadContact), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, out)
}

// listClaims returns a shipment's claims (digests, never the buyer's words)
// as {items}: few per shipment (shipment.MaxClaims), so one page.
func (s *Server) listClaims(c echo.Context) error {
	out, err := s.evaluate(c, string(shipment.OpClaims), c.Param("id"))
	if err != nil {
		return err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(out, &items); err != nil {
		return fmt.Errorf("decode claims of %s: %w", c.Param("id"), err)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	return c.JSON(http.StatusOK, page{Items: items})
}

// shipmentHistory pages through a shipment's versions, newest first. Pages
// are small by default: each entry is a whole version of the record, and a
// deep page costs the peer every entry above it (chaincode/README.md).
func (s *Server) shipmentHistory(c echo.Context) error {
	cursor, err := decodeCursor(c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	out, err := s.evaluate(c, string(shipment.OpHistory), c.Param("id"), pageSize(c, 20), cursor)
	if err != nil {
		return err
	}
	return s.pageOf(c, out)
}

type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

// pageOf turns the contract's {items, bookmark} into {items, nextCursor} and
// a Link header to the next page.
func (s *Server) pageOf(c echo.Context, out []byte) error {
	var p struct {
		Items    []json.RawMessage `json:"items"`
		Bookmark string            `json:"bookmark"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		return err
	}
	res := page{Items: p.Items, NextCursor: encodeCursor(p.Bookmark)}
	if res.Items == nil {
		res.Items = []json.RawMessage{}
	}
	if res.NextCursor != "" {
		q := c.Request().URL.Query()
		q.Set("cursor", res.NextCursor)
		c.Response().Header().Set("Link", "<"+c.Request().URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	return c.JSON(http.StatusOK, res)
}

func pageSize(c echo.Context, def int) string {
	if v := c.QueryParam("pageSize"); v != "" {
		return v
	}
	return strconv.Itoa(def)
}

func (s *Server) listShipments(c echo.Context) error {
	filter := map[string]string{}
	for _, k := range []string{"status", "exporter", "buyer", "carrier"} {
		if v := c.QueryParam(k); v != "" {
			filter[k] = v
		}
	}
	f, err := json.Marshal(filter)
	if err != nil {
		return err
	}
	cursor, err := decodeCursor(c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	out, err := s.evaluate(c, "ListShipments", string(f), pageSize(c, 50), cursor)
	if err != nil {
		return err
	}
	return s.pageOf(c, out)
}

func (s *Server) listReadings(c echo.Context) error {
	var from, to time.Time
	for name, t := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := c.QueryParam(name); v != "" {
			parsed, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badRequest(name + " must be an RFC 3339 time")
			}
			*t = parsed
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return shipment.Errorf(shipment.Invalid, "to: must not be before from")
	}
	cursor, err := decodeCursor(c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	out, err := s.evaluate(c, "Readings", c.Param("id"), c.QueryParam("from"), c.QueryParam("to"), pageSize(c, 100), cursor)
	if err != nil {
		return err
	}
	return s.pageOf(c, out)
}

// Cursors are the contract's bookmarks in URL-safe base64: bookmarks are
// composite keys with NUL separators, which do not belong in a URL.
func encodeCursor(bookmark string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(bookmark))
}

func decodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !utf8.Valid(b) {
		return "", badRequest("cursor: not a cursor this API returned")
	}
	return string(b), nil
}
