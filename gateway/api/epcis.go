package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/epcis"
	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/journal"
	"github.com/shiptrace/shiptrace/shipment"
)

// shipmentEPCIS exports one shipment as an EPCIS 2.0 document: its whole
// history and readings, read through the caller's identity.
func (s *Server) shipmentEPCIS(c echo.Context) error {
	form, err := epcis.ParseReadingsForm(c.QueryParam("readings"))
	if err != nil {
		return badRequest(err.Error())
	}
	rec, err := s.epcisRecord(c, c.Param("id"), "", "", form)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, epcis.MediaType, epcis.NewDocument(s.epcisIDs.Export(rec, form), s.now()))
	return nil
}

// epcisEvents is the query form: the events of a page of shipments
// (ListShipments' filters, plus counterpart: a member that is the
// shipment's exporter, buyer or carrier), optionally only those with an
// eventTime in [from, to]. The next page is in the Link header, as for
// the other lists; a page may hold fewer shipments than asked when
// counterpart filters some out.
func (s *Server) epcisEvents(c echo.Context) error {
	form, err := epcis.ParseReadingsForm(c.QueryParam("readings"))
	if err != nil {
		return badRequest(err.Error())
	}
	var from, to time.Time
	for name, t := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := c.QueryParam(name); v != "" {
			if *t, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return badRequest(name + " must be an RFC 3339 time")
			}
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return shipment.Errorf(shipment.Invalid, "to: must not be before from")
	}
	filter := map[string]string{}
	for _, k := range []string{"status", "exporter", "buyer", "carrier"} {
		if v := c.QueryParam(k); v != "" {
			filter[k] = v
		}
	}
	counterpart := c.QueryParam("counterpart")
	if counterpart != "" {
		if err := shipment.ValidateMSPID("counterpart", counterpart); err != nil {
			return err
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
	out, err := s.evaluate(c, string(shipment.OpList), string(f), pageSize(c, 10), cursor)
	if err != nil {
		return err
	}
	var page struct {
		Items    []shipment.Shipment `json:"items"`
		Bookmark string              `json:"bookmark"`
	}
	if err := json.Unmarshal(out, &page); err != nil {
		return fmt.Errorf("decode shipment page: %w", err)
	}
	events := []epcis.Event{}
	for _, sh := range page.Items {
		if counterpart != "" && sh.Exporter != counterpart && sh.Buyer != counterpart && sh.Carrier != counterpart {
			continue
		}
		rec, err := s.epcisRecord(c, sh.ID, c.QueryParam("from"), c.QueryParam("to"), form)
		if err != nil {
			return err
		}
		for _, e := range s.epcisIDs.Export(rec, form) {
			if (from.IsZero() || !e.EventTime.Before(from)) && (to.IsZero() || !e.EventTime.After(to)) {
				events = append(events, e)
			}
		}
	}
	if next := encodeCursor(page.Bookmark); next != "" {
		q := c.Request().URL.Query()
		q.Set("cursor", next)
		c.Response().Header().Set("Link", "<"+c.Request().URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeJSON(c, http.StatusOK, epcis.MediaType, epcis.NewDocument(events, s.now()))
	return nil
}

// epcisRecord reads a shipment's whole history and its readings (in
// [from, to] when given) page by page.
func (s *Server) epcisRecord(c echo.Context, id, from, to string, form epcis.ReadingsForm) (epcis.Record, error) {
	var rec epcis.Record
	for bookmark := ""; ; {
		out, err := s.evaluate(c, string(shipment.OpHistory), id, "100", bookmark)
		if err != nil {
			return rec, err
		}
		var p struct {
			Items    []shipment.HistoryEntry `json:"items"`
			Bookmark string                  `json:"bookmark"`
		}
		if err := json.Unmarshal(out, &p); err != nil {
			return rec, fmt.Errorf("decode history of %s: %w", id, err)
		}
		rec.History = append(rec.History, p.Items...)
		if bookmark = p.Bookmark; bookmark == "" {
			break
		}
	}
	if form == epcis.ReadingsNone {
		return rec, nil
	}
	for bookmark := ""; ; {
		out, err := s.evaluate(c, string(shipment.OpReadings), id, from, to, "1000", bookmark)
		if err != nil {
			return rec, err
		}
		var p struct {
			Items    []shipment.Reading `json:"items"`
			Bookmark string             `json:"bookmark"`
		}
		if err := json.Unmarshal(out, &p); err != nil {
			return rec, fmt.Errorf("decode readings of %s: %w", id, err)
		}
		rec.Readings = append(rec.Readings, p.Items...)
		if bookmark = p.Bookmark; bookmark == "" {
			break
		}
	}
	return rec, nil
}

// CaptureOutcome is what happened to one captured event.
type CaptureOutcome struct {
	Index      int    `json:"index"`
	EventID    string `json:"eventID"`
	Operation  string `json:"operation"`
	ShipmentID string `json:"shipmentId"`
	// Replayed: the event was captured before; this is the first outcome.
	Replayed    bool            `json:"replayed,omitempty"`
	Transaction TxView          `json:"transaction"`
	Result      json.RawMessage `json:"result,omitempty"`
}

// captureEPCIS maps a partner's EPCIS document (or single event) to
// contract operations and submits them in document order, each
// synchronously, each idempotent by its eventID. The whole document is
// mapped before anything is submitted: one event the contract does not
// understand refuses the document, and nothing is recorded. A contract
// refusal stops at that event; the problem names it and lists the events
// captured before it, which stay captured (a retry replays them).
func (s *Server) captureEPCIS(c echo.Context) error {
	cmds, refusals, err := s.epcisIDs.Capture(bodyOf(c), c.QueryParam("shipment"), s.now())
	var se *epcis.SchemaError
	switch {
	case errors.As(err, &se):
		return badRequest("the body is not a valid EPCIS 2.0 document or event (GS1 EPCIS JSON Schema)", se.Problems...)
	case err != nil:
		return err
	case len(refusals) > 0:
		p := problem(http.StatusUnprocessableEntity, "epcis-event-refused", "An EPCIS event has no contract operation",
			refusalText(refusals[0])+"; nothing was captured")
		for _, r := range refusals {
			p.Errors = append(p.Errors, refusalText(r))
		}
		p.Events, _ = json.Marshal(refusals)
		return p
	}
	outcomes := []CaptureOutcome{}
	for _, cmd := range cmds {
		o, err := s.captureEvent(c, cmd)
		if err != nil {
			p := *toProblem(err)
			p.Detail = refusalText(epcis.Refusal{Index: cmd.Index, EventID: cmd.EventID, Reason: p.Detail}) +
				fmt.Sprintf(" (%d earlier events captured)", len(outcomes))
			p.Events, _ = json.Marshal(outcomes)
			return &p
		}
		outcomes = append(outcomes, o)
	}
	return c.JSON(http.StatusOK, map[string]any{"events": outcomes})
}

func refusalText(r epcis.Refusal) string {
	return "event " + strconv.Itoa(r.Index) + " (" + r.EventID + "): " + r.Reason
}

// captureEvent submits one event's operation, claimed in the journal under
// its eventID for the caller's organisation: a repeat answers the first
// outcome, the same eventID with a different event is refused, and an
// event interrupted by a restart is settled from the ledger.
func (s *Server) captureEvent(c echo.Context, cmd epcis.Command) (CaptureOutcome, error) {
	caller := callerOf(c)
	o := CaptureOutcome{Index: cmd.Index, EventID: cmd.EventID, Operation: string(cmd.Op), ShipmentID: cmd.ShipmentID}
	w := write{op: string(cmd.Op), target: cmd.ShipmentID, args: []string{cmd.ShipmentID}}
	switch cmd.Op {
	case shipment.OpHandOver:
		w.args = append(w.args, cmd.ToMSP)
	case shipment.OpRecordReadings:
		b, err := json.Marshal(cmd.Readings)
		if err != nil {
			return o, err
		}
		w.args = append(w.args, string(b))
	}
	sum := sha256.New()
	sum.Write([]byte(cmd.ShipmentID + "\x00"))
	sum.Write(cmd.Event)
	scope := "epcis:" + caller.MSPID
	entry, claim, err := s.journal.Begin(journal.Entry{
		Scope: scope, Key: cmd.EventID, Fingerprint: hex.EncodeToString(sum.Sum(nil)),
		Op: w.op, Identity: caller.Identity, Target: w.target,
	})
	if err != nil {
		return o, err
	}
	switch claim {
	case journal.Replay:
		o.Replayed = true
		return o, o.fill(entry.Body)
	case journal.Mismatch:
		return o, problem(http.StatusUnprocessableEntity, "epcis-event-id-reused",
			"The eventID was captured before with a different event or shipment", "an eventID names one event; give a new event a new eventID")
	case journal.InFlight:
		p := problem(http.StatusConflict, "idempotency-key-in-use", "This event is being captured by another request", "retry after it finished")
		p.retryAfter = 1
		return o, p
	case journal.Orphaned:
		if done, err := s.settleEvent(c, w, entry, &o); done || err != nil {
			return o, err
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.syncWait)
	defer cancel()
	committed, err := fabricSubmit(ctx, s.ledger, s.request(c, w, &entry))
	if err != nil {
		_ = s.journal.Release(entry.Scope, entry.Key, !mayHaveCommitted(err))
		return o, err
	}
	c.Set(ctxTxID, committed.TxID)
	s.log.InfoContext(ctx, "epcis event captured", slog.String("request_id", requestIDOf(c)), slog.String("event_id", cmd.EventID),
		slog.String("op", w.op), slog.String("shipment", w.target), slog.String("tx_id", committed.TxID))
	body, err := json.Marshal(s.receipt(w, committed))
	if err != nil {
		return o, err
	}
	if err := s.journal.Complete(entry.Scope, entry.Key, http.StatusOK, nil, body); err != nil {
		return o, err
	}
	return o, o.fill(body)
}

// settleEvent finishes an event whose earlier capture started transactions
// but recorded no outcome: from the ledger if one committed, else it asks
// for a retry while one may still commit, else the event runs again.
func (s *Server) settleEvent(c echo.Context, w write, e journal.Entry, o *CaptureOutcome) (bool, error) {
	for _, id := range e.TxIDs {
		rec, err := s.ledger.Lookup(c.Request().Context(), e.Identity, id)
		if err != nil {
			_ = s.journal.Release(e.Scope, e.Key, false)
			return true, err
		}
		if rec.Found && rec.Valid {
			body, err := json.Marshal(s.receipt(w, fabric.Committed{TxID: rec.TxID, BlockNumber: rec.BlockNumber, Result: rec.Result, Attempts: len(e.TxIDs)}))
			if err != nil {
				return true, err
			}
			if err := s.journal.Complete(e.Scope, e.Key, http.StatusOK, nil, body); err != nil {
				return true, err
			}
			o.Replayed = true
			return true, o.fill(body)
		}
	}
	if len(e.TxIDs) > 0 && s.now().Sub(e.Updated) < s.settleAfter {
		_ = s.journal.Release(e.Scope, e.Key, false)
		p := problem(http.StatusConflict, "idempotency-key-in-use", "An earlier capture of this event may still commit", "retry in a few seconds")
		p.retryAfter = 2
		return true, p
	}
	return false, nil
}

func (o *CaptureOutcome) fill(receipt []byte) error {
	var r Receipt
	if err := json.Unmarshal(receipt, &r); err != nil {
		return fmt.Errorf("decode stored outcome of event %s: %w", o.EventID, err)
	}
	o.Transaction, o.Result = r.Transaction, r.Result
	return nil
}
