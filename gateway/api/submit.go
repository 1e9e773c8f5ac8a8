package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/journal"
	"github.com/shiptrace/shiptrace/shipment"
)

// write is one state-changing request, ready to submit.
type write struct {
	op        string // the contract transaction
	target    string // shipment id
	args      []string
	transient map[string][]byte
	endorsers []string
	status    int    // on success; default 200
	location  string // Location header on success
	contact   []byte // create only: the buyer contact, stored by a second transaction
}

// Receipt is the body of a successful write: the transaction, and the
// contract's receipt of it (Result: shipmentId, status, version, txId, plus
// the block number). Shipment, the whole record read after the commit, only
// when the caller asked for it with Prefer: return=representation: the
// contract no longer returns the record, which Fabric would store in the
// block a second time (docs/contract.md, "What a write returns").
type Receipt struct {
	Transaction  TxView          `json:"transaction"`
	Result       json.RawMessage `json:"result,omitempty"`
	Shipment     json.RawMessage `json:"shipment,omitempty"`
	BuyerContact *ContactReceipt `json:"buyerContact,omitempty"`
}

// ContactReceipt says whether the buyer contact sent with a create was stored.
type ContactReceipt struct {
	Stored  bool     `json:"stored"`
	TxID    string   `json:"txId,omitempty"`
	Problem *Problem `json:"problem,omitempty"`
}

// TxView is a transaction as the API shows it.
type TxView struct {
	ID             string   `json:"id"`
	Status         string   `json:"status"`
	BlockNumber    *uint64  `json:"blockNumber,omitempty"`
	CommittedTxID  string   `json:"committedTxId,omitempty"`
	Attempts       int      `json:"attempts,omitempty"`
	ValidationCode string   `json:"validationCode,omitempty"`
	Problem        *Problem `json:"problem,omitempty"`
	// Result is what the contract returned (a write's receipt) with the
	// block number added.
	Result json.RawMessage `json:"result,omitempty"`
}

// response is what a write answers and what the journal replays.
type response struct {
	status int
	header map[string]string
	body   []byte
}

func (r response) send(c echo.Context) error {
	for k, v := range r.header {
		c.Response().Header().Set(k, v)
	}
	return c.Blob(r.status, echo.MIMEApplicationJSON, r.body)
}

// preferences are the RFC 7240 preferences a write honours.
type preferences struct {
	async          bool // respond-async: 202 once the orderer has the transaction
	representation bool // return=representation: the whole record, read after the commit
}

// preferred reads the Prefer headers (RFC 7240: comma-separated
// preferences, each a token with an optional value and ;parameters).
// Unknown preferences are ignored, as the RFC asks.
func preferred(c echo.Context) preferences {
	var p preferences
	for _, v := range c.Request().Header.Values("Prefer") {
		for _, item := range strings.Split(v, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(strings.SplitN(item, ";", 2)[0]), "=")
			name, value = strings.ToLower(strings.TrimSpace(name)), strings.Trim(strings.TrimSpace(value), `"`)
			switch {
			case name == "respond-async":
				p.async = true
			case name == "return" && strings.EqualFold(value, "representation"):
				p.representation = true
			case name == "return" && strings.EqualFold(value, "minimal"):
				p.representation = false
			}
		}
	}
	return p
}

// hasRecord reports whether the write changes the shipment record, so that
// return=representation can answer with it. The buyer-contact writes change
// only private data, and echoing a contact back is not wanted.
func (w write) hasRecord() bool {
	return w.op != string(shipment.OpSetContact) && w.op != string(shipment.OpDeleteContact)
}

// submit runs a write: with an Idempotency-Key it is claimed in the journal
// first, so that a repeat replays the first response, a request still running
// is refused, and one interrupted by a restart is settled from the ledger.
// The Prefer return= preference is not part of the fingerprint: a repeat
// gets the first answer byte for byte, whichever it asks for, and the stored
// Preference-Applied header (or its absence) tells it which one that is.
func (s *Server) submit(c echo.Context, w write) error {
	caller := callerOf(c)
	prefs := preferred(c)
	key := c.Request().Header.Get("Idempotency-Key")
	if key == "" {
		return s.execute(c, w, prefs, nil)
	}
	sum := sha256.New()
	for _, part := range []string{c.Request().Method, c.Request().URL.Path, map[bool]string{true: "async", false: "sync"}[prefs.async]} {
		sum.Write([]byte(part))
		sum.Write([]byte{0})
	}
	sum.Write(bodyOf(c))
	entry, claim, err := s.journal.Begin(journal.Entry{
		Scope: caller.Name, Key: key, Fingerprint: hex.EncodeToString(sum.Sum(nil)),
		Op: w.op, Identity: caller.Identity, Target: w.target,
	})
	if err != nil {
		return err
	}
	switch claim {
	case journal.Replay:
		c.Response().Header().Set("Idempotent-Replayed", "true")
		return response{status: entry.Status, header: entry.Header, body: entry.Body}.send(c)
	case journal.Mismatch:
		return problem(http.StatusUnprocessableEntity, "idempotency-key-reused", "The Idempotency-Key was used for a different request",
			"use a new key for a new request")
	case journal.InFlight:
		p := problem(http.StatusConflict, "idempotency-key-in-use", "A request with this Idempotency-Key is still running",
			"retry after it finished")
		p.retryAfter = 1
		return p
	case journal.Orphaned:
		done, err := s.settle(c, w, prefs, entry)
		if done || err != nil {
			return err
		}
	}
	return s.execute(c, w, prefs, &entry)
}

// settle finishes an idempotent request whose earlier run started
// transactions but recorded no response. If one of them committed, its
// response is rebuilt from the ledger; nobody received an answer before, so
// this request's preferences shape it, and it is the one stored. If none did
// and enough time passed for any of them to have committed, the request runs
// again (done false).
func (s *Server) settle(c echo.Context, w write, prefs preferences, e journal.Entry) (done bool, err error) {
	ctx := c.Request().Context()
	var main, contact *fabric.TxRecord
	allInvalid := true
	for _, id := range e.TxIDs {
		rec, err := s.ledger.Lookup(ctx, e.Identity, id)
		if err != nil {
			_ = s.journal.Release(e.Scope, e.Key, false)
			return true, err
		}
		if !rec.Found {
			allInvalid = false
		}
		if !rec.Found || !rec.Valid {
			continue
		}
		if main == nil {
			main = &rec
		} else if w.contact != nil {
			contact = &rec
		}
	}
	if main == nil {
		// A transaction the ledger holds as invalid never becomes valid: if
		// every one the request started is such, nothing can commit any
		// more and the request runs again at once.
		if s.now().Sub(e.Updated) < s.settleAfter && len(e.TxIDs) > 0 && !allInvalid {
			_ = s.journal.Release(e.Scope, e.Key, false)
			p := problem(http.StatusConflict, "idempotency-key-in-use", "An earlier request with this Idempotency-Key may still commit",
				"retry in a few seconds")
			p.retryAfter = 2
			return true, p
		}
		return false, nil
	}
	committed := fabric.Committed{TxID: main.TxID, BlockNumber: main.BlockNumber, Result: main.Result, Attempts: len(e.TxIDs)}
	r := s.receipt(w, committed)
	if w.contact != nil {
		if contact != nil {
			r.BuyerContact = &ContactReceipt{Stored: true, TxID: contact.TxID}
		} else {
			r.BuyerContact = &ContactReceipt{Stored: false, Problem: problem(http.StatusServiceUnavailable, "outcome-unknown",
				"The buyer contact was not confirmed", "send it again with PUT /v1/shipments/{id}/buyer-contact")}
		}
	}
	if prefs.representation {
		s.represent(ctx, c, w, &r)
	}
	resp, err := s.respond(w, r, http.StatusOK)
	if err != nil {
		return true, err
	}
	if err := s.journal.Complete(e.Scope, e.Key, resp.status, resp.header, resp.body); err != nil {
		return true, err
	}
	c.Set(ctxTxID, committed.TxID)
	c.Response().Header().Set("Idempotent-Replayed", "true")
	return true, resp.send(c)
}

func (s *Server) request(c echo.Context, w write, e *journal.Entry) fabric.Request {
	req := fabric.Request{Identity: callerOf(c).Identity, Tx: w.op, Args: w.args, Transient: w.transient, EndorsingOrgs: w.endorsers}
	if e != nil {
		scope, key := e.Scope, e.Key
		req.OnTxID = func(_ context.Context, txID string) error { return s.journal.AddTx(scope, key, txID) }
	}
	return req
}

// execute submits the transaction and answers, synchronously after the
// commit or with 202 once the orderer accepted it.
func (s *Server) execute(c echo.Context, w write, prefs preferences, e *journal.Entry) error {
	ctx := c.Request().Context()
	sub, err := s.ledger.Start(ctx, s.request(c, w, e))
	if err != nil {
		if e != nil {
			_ = s.journal.Release(e.Scope, e.Key, !mayHaveCommitted(err))
		}
		return err
	}
	c.Set(ctxTxID, sub.TxID())
	if prefs.async {
		return s.accept(c, w, sub, e)
	}
	// Wait for the commit while the caller waits, at most SyncWait. If the
	// caller leaves, stop: the transaction may still commit, and its IDs
	// are in the journal, so a retry with the same Idempotency-Key settles
	// it from the ledger. Following it on would hold a goroutine and a
	// commit-status stream for nobody.
	wctx, cancel := context.WithTimeout(ctx, s.syncWait)
	defer cancel()
	committed, err := sub.Wait(wctx)
	if err != nil {
		if e != nil {
			_ = s.journal.Release(e.Scope, e.Key, !mayHaveCommitted(err))
		}
		return err
	}
	c.Set(ctxTxID, committed.TxID)
	r := s.receipt(w, committed)
	if w.contact != nil {
		r.BuyerContact = s.storeContact(wctx, c, w, e)
	}
	if prefs.representation {
		s.represent(wctx, c, w, &r)
	}
	resp, err := s.respond(w, r, http.StatusOK)
	if err != nil {
		return err
	}
	if e != nil {
		if err := s.journal.Complete(e.Scope, e.Key, resp.status, resp.header, resp.body); err != nil {
			return err
		}
	}
	return resp.send(c)
}

// storeContact is the create's second transaction: the contact goes to the
// exporter's private collection, endorsed by the exporter alone. Its failure
// does not undo the create; the receipt says so.
func (s *Server) storeContact(ctx context.Context, c echo.Context, w write, e *journal.Entry) *ContactReceipt {
	req := s.request(c, write{op: string(shipment.OpSetContact), args: []string{w.target},
		transient: map[string][]byte{transientContact: w.contact}, endorsers: []string{callerOf(c).MSPID}}, e)
	committed, err := fabricSubmit(ctx, s.ledger, req)
	if err != nil {
		p := toProblem(err)
		s.log.WarnContext(ctx, "buyer contact not stored", "request_id", requestIDOf(c), "shipment", w.target, "error", causeText(p))
		return &ContactReceipt{Stored: false, Problem: p}
	}
	return &ContactReceipt{Stored: true, TxID: committed.TxID}
}

func fabricSubmit(ctx context.Context, l Ledger, req fabric.Request) (fabric.Committed, error) {
	sub, err := l.Start(ctx, req)
	if err != nil {
		return fabric.Committed{}, err
	}
	return sub.Wait(ctx)
}

func (s *Server) receipt(w write, committed fabric.Committed) Receipt {
	block := committed.BlockNumber
	return Receipt{
		Transaction: TxView{ID: committed.TxID, Status: string(journal.TxCommitted), BlockNumber: &block, Attempts: committed.Attempts},
		Result:      withBlock(committed.Result, block),
	}
}

// withBlock adds the block number to the contract's receipt: the contract
// cannot know it (the block is cut after endorsement); the commit status
// says it. A result that is not a JSON object is passed on as it is.
func withBlock(result []byte, block uint64) json.RawMessage {
	var m map[string]json.RawMessage
	if len(result) == 0 || json.Unmarshal(result, &m) != nil || m == nil {
		if json.Valid(result) && len(result) > 0 {
			return result
		}
		return nil
	}
	m["blockNumber"] = json.RawMessage(strconv.FormatUint(block, 10))
	b, err := json.Marshal(m)
	if err != nil {
		return result
	}
	return b
}

// represent adds the whole record to a receipt (Prefer:
// return=representation), read from the caller's own peer, which has the
// block since it reported the commit: the record as of this write or a later
// one (its version says which). If the read fails, the write still stands:
// the answer is the receipt without the record and without
// Preference-Applied, as RFC 7240 allows a server to decline a preference.
func (s *Server) represent(ctx context.Context, c echo.Context, w write, r *Receipt) {
	if !w.hasRecord() {
		return
	}
	out, err := s.ledger.Evaluate(ctx, fabric.Request{Identity: callerOf(c).Identity, Tx: string(shipment.OpRead), Args: []string{w.target}})
	if err == nil && !json.Valid(out) {
		err = errors.New("ReadShipment returned no JSON")
	}
	if err != nil {
		s.log.WarnContext(ctx, "record not read after the commit; answering with the receipt only", "request_id", requestIDOf(c),
			"shipment", w.target, "error", causeText(toProblem(err)))
		return
	}
	r.Shipment = out
}

func (s *Server) respond(w write, r Receipt, status int) (response, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return response{}, err
	}
	if w.status != 0 {
		status = w.status
	}
	resp := response{status: status, body: body, header: map[string]string{}}
	if b := r.Transaction.BlockNumber; b != nil {
		resp.header[headerCommittedBlock] = strconv.FormatUint(*b, 10)
	}
	if w.location != "" {
		resp.header["Location"] = w.location
	}
	if len(r.Shipment) > 0 {
		resp.header["Preference-Applied"] = "return=representation"
	}
	return resp, nil
}

// accept answers 202 and follows the commit in the background, recording
// the outcome in the journal for GET /v1/transactions/{id}.
func (s *Server) accept(c echo.Context, w write, sub fabric.Submission, e *journal.Entry) error {
	caller := callerOf(c)
	id := sub.TxID()
	if err := s.journal.PutTx(journal.Tx{ID: id, Identity: caller.Identity, Caller: caller.Name, MSPID: caller.MSPID,
		Op: w.op, Target: w.target, Status: journal.TxPending}); err != nil {
		s.log.ErrorContext(c.Request().Context(), "journal", "error", err.Error())
	}
	s.mu.Lock()
	s.tracking[id] = true
	s.mu.Unlock()
	s.async.Add(1)
	go s.follow(id, caller, w, sub)

	body, err := json.Marshal(Receipt{Transaction: TxView{ID: id, Status: string(journal.TxPending)}})
	if err != nil {
		return err
	}
	resp := response{status: http.StatusAccepted, body: body,
		header: map[string]string{"Location": "/v1/transactions/" + id, "Preference-Applied": "respond-async"}}
	if e != nil {
		if err := s.journal.Complete(e.Scope, e.Key, resp.status, resp.header, resp.body); err != nil {
			return err
		}
	}
	return resp.send(c)
}

func (s *Server) follow(id string, caller Key, w write, sub fabric.Submission) {
	defer s.async.Done()
	defer func() {
		s.mu.Lock()
		delete(s.tracking, id)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(s.base, s.commit)
	defer cancel()
	committed, err := sub.Wait(ctx)
	t := journal.Tx{ID: id, Identity: caller.Identity, Caller: caller.Name, MSPID: caller.MSPID, Op: w.op, Target: w.target}
	if err != nil {
		if errors.Is(err, context.Canceled) && s.base.Err() != nil {
			return // shutting down: the entry stays PENDING and is settled from the ledger
		}
		p := toProblem(err)
		t.Status = journal.TxFailed
		t.Problem, _ = json.Marshal(p)
		s.log.Warn("async transaction failed", "tx_id", id, "op", w.op, "shipment", w.target, "error", causeText(p))
	} else {
		t.Status = journal.TxCommitted
		t.BlockNumber = committed.BlockNumber
		t.CommittedTxID = committed.TxID
		t.Attempts = committed.Attempts
		t.Result = withBlock(committed.Result, committed.BlockNumber)
	}
	if err := s.journal.PutTx(t); err != nil {
		s.log.Error("journal", "tx_id", id, "error", err.Error())
	}
}

// mayHaveCommitted says whether a failed write may still have reached the
// ledger, in which case its idempotency entry must be kept for settling.
func mayHaveCommitted(err error) bool {
	var fe *fabric.Error
	if errors.As(err, &fe) {
		return fe.MayHaveCommitted
	}
	return false
}

// getTransaction shows a transaction's status and result to whoever may see
// it (mayView); to anyone else it is as unknown as a transaction that does
// not exist, so its existence is not revealed either.
func (s *Server) getTransaction(c echo.Context) error {
	id := c.Param("txId")
	caller := callerOf(c)
	t, found, err := s.journal.Tx(id)
	if err != nil {
		return err
	}
	if found && !mayView(caller, t.Caller, t.Identity, t.MSPID) {
		return noSuchTransaction()
	}
	s.mu.Lock()
	followed := s.tracking[id]
	s.mu.Unlock()
	if found && (t.Status != journal.TxPending || followed) {
		return c.JSON(http.StatusOK, txView(t))
	}
	// Not followed by this process: the ledger knows.
	rec, err := s.ledger.Lookup(c.Request().Context(), caller.Identity, id)
	if err != nil {
		return err
	}
	if !rec.Found {
		if found {
			return c.JSON(http.StatusOK, txView(t))
		}
		return noSuchTransaction()
	}
	if !found && !mayView(caller, "", rec.Submitter, rec.CreatorMSPID) {
		return noSuchTransaction()
	}
	v := TxView{ID: id, BlockNumber: &rec.BlockNumber, ValidationCode: rec.Code}
	if rec.Valid {
		v.Status = string(journal.TxCommitted)
		v.Result = withBlock(rec.Result, rec.BlockNumber)
	} else {
		v.Status = string(journal.TxFailed)
	}
	if found && rec.Valid {
		t.Status, t.BlockNumber, t.CommittedTxID, t.Result = journal.TxCommitted, rec.BlockNumber, id, v.Result
		_ = s.journal.PutTx(t)
	}
	return c.JSON(http.StatusOK, v)
}

func noSuchTransaction() *Problem {
	return problem(http.StatusNotFound, "not-found", "No such transaction",
		"the ledger has no transaction with this ID that this API key may see (yet)")
}

func txView(t journal.Tx) TxView {
	v := TxView{ID: t.ID, Status: string(t.Status), CommittedTxID: t.CommittedTxID, Attempts: t.Attempts, Result: t.Result}
	if t.Status == journal.TxCommitted {
		b := t.BlockNumber
		v.BlockNumber = &b
	}
	if len(t.Problem) > 0 {
		var p Problem
		if json.Unmarshal(t.Problem, &p) == nil {
			v.Problem = &p
		}
	}
	return v
}
