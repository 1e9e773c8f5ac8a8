package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

// Problem is an RFC 9457 problem details object. Handlers return errors;
// toProblem is the one place where an error becomes a status code.
type Problem struct {
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Status    int      `json:"status"`
	Detail    string   `json:"detail,omitempty"`
	Instance  string   `json:"instance,omitempty"`
	Code      string   `json:"code,omitempty"`
	Errors    []string `json:"errors,omitempty"`
	TxID      string   `json:"txId,omitempty"`
	RequestID string   `json:"requestId,omitempty"`
	// Events: for an EPCIS capture, the refused events or those captured
	// before the one that failed.
	Events json.RawMessage `json:"events,omitempty"`

	retryAfter int // seconds; 0 for none
	header     map[string]string
	cause      error // logged, never shown
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

func (p *Problem) Unwrap() error { return p.cause }

func problem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: "urn:shiptrace:problem:" + slug, Title: title, Status: status, Detail: detail}
}

func badRequest(detail string, errs ...string) *Problem {
	p := problem(http.StatusBadRequest, "bad-request", "The request does not match the API", detail)
	p.Errors = errs
	return p
}

// refusalStatus maps the contract's codes; INVALID is 422 because the
// request was well-formed (the schema checks run first and answer 400).
var refusalStatus = map[shipment.Code]struct {
	status      int
	slug, title string
}{
	shipment.Invalid:   {http.StatusUnprocessableEntity, "invalid", "The request breaks a rule of the contract"},
	shipment.NotFound:  {http.StatusNotFound, "not-found", "Not found"},
	shipment.Forbidden: {http.StatusForbidden, "forbidden", "The contract refuses this caller"},
	shipment.Conflict:  {http.StatusConflict, "conflict", "The shipment is not in a state that allows this"},
}

// toProblem is the error mapping of the whole API.
func toProblem(err error) *Problem {
	var (
		p       *Problem
		refusal *shipment.Error
		ferr    *fabric.Error
		herr    *echo.HTTPError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &refusal):
		m, ok := refusalStatus[refusal.Code]
		if !ok {
			break
		}
		p := problem(m.status, m.slug, m.title, refusal.Message)
		p.Code = string(refusal.Code)
		return p
	case errors.As(err, &ferr):
		return fabricProblem(ferr)
	case errors.As(err, &herr):
		p := problem(herr.Code, "http-"+strconv.Itoa(herr.Code), http.StatusText(herr.Code), fmt.Sprint(herr.Message))
		p.cause = err
		return p
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		p := problem(http.StatusServiceUnavailable, "timeout", "The request timed out", "retry later")
		p.retryAfter, p.cause = 1, err
		return p
	}
	p = problem(http.StatusInternalServerError, "internal", "Internal error", "the gateway log has the details under this request ID")
	p.cause = err
	return p
}

func fabricProblem(e *fabric.Error) *Problem {
	var p *Problem
	switch {
	case e.Stage == fabric.StageCommit && e.Retryable:
		p = problem(http.StatusServiceUnavailable, "write-conflict", "The transaction kept losing to concurrent writes",
			fmt.Sprintf("validation code %s after the gateway's retries; send it again", e.TxCode))
	case e.Stage == fabric.StageCommit:
		p = problem(http.StatusBadGateway, "commit-failed", "The channel invalidated the transaction",
			"validation code "+e.TxCode)
	case e.Reason == fabric.ReasonContract:
		// Deterministic: the same request fails the same way, so no
		// Retry-After. The chaincode's message stays in the log.
		p = problem(http.StatusBadGateway, "contract-failed", "The contract failed without a reason it could give",
			"the same request will fail again; the gateway log has the details under this request ID")
	case e.Reason == fabric.ReasonDisagreement:
		p = problem(http.StatusServiceUnavailable, "endorsers-disagree", "The organisations' peers answered differently",
			"one peer is behind the others; retry in a moment")
	case e.MayHaveCommitted:
		p = problem(http.StatusServiceUnavailable, "outcome-unknown", "The transaction was sent but its outcome is unknown",
			"it may still commit: check GET /v1/transactions/{txId}, or retry with the same Idempotency-Key")
	case e.Retryable:
		p = problem(http.StatusServiceUnavailable, "unavailable", "The network is unavailable",
			fmt.Sprintf("%s failed (%s); retry later", e.Stage, e.Code))
	default:
		p = problem(http.StatusBadGateway, "network-error", "The network refused the transaction",
			fmt.Sprintf("%s failed (%s)", e.Stage, e.Code))
	}
	p.TxID = e.TxID
	if p.Status == http.StatusServiceUnavailable {
		p.retryAfter = 1
	}
	p.cause = e
	return p
}

// statusClientClosed is what a request whose caller went away is logged
// with (nginx's convention); metrics say "client_closed".
const statusClientClosed = 499

// handleError writes any error as problem+json. Server errors are logged
// with their cause; the body never carries it.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if ctx := c.Request().Context(); errors.Is(ctx.Err(), context.Canceled) {
		// The caller went away: nobody reads the answer, and it is not
		// the gateway's failure, whatever the error says about it.
		c.Set(ctxClientClosed, true)
		s.log.InfoContext(context.WithoutCancel(ctx), "client closed the request",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)), slog.String("route", c.Path()),
			slog.String("error", causeText(err)))
		c.Response().WriteHeader(statusClientClosed)
		return
	}
	p := *toProblem(err)
	p.Instance = c.Request().URL.Path
	p.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if p.Status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed",
			slog.String("request_id", p.RequestID), slog.String("route", c.Path()),
			slog.Int("status", p.Status), slog.String("error", causeText(err)))
	}
	h := c.Response().Header()
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	for k, v := range p.header {
		h.Set(k, v)
	}
	if p.Status == http.StatusUnauthorized {
		h.Set(echo.HeaderWWWAuthenticate, `Bearer realm="shiptrace"`)
	}
	writeJSON(c, p.Status, "application/problem+json", p)
}

func causeText(err error) string {
	var p *Problem
	if errors.As(err, &p) && p.cause != nil {
		return p.cause.Error()
	}
	return err.Error()
}
