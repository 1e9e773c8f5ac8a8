// Package api is the gateway's REST face: echo handlers for every contract
// operation under /v1, and the middleware every request goes through
// (request IDs, access logs, metrics, recovery, API-key authentication, body
// limits, validation against the embedded OpenAPI document). Handlers only
// decode, call the Ledger and encode; errors become problem+json in one
// place (toProblem).
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shiptrace/shiptrace/epcis"
	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/journal"
)

//go:embed openapi.yaml
var openapiYAML []byte

// Ledger is what the handlers need from Fabric; *fabric.Client implements it.
type Ledger interface {
	Evaluate(ctx context.Context, req fabric.Request) ([]byte, error)
	Start(ctx context.Context, req fabric.Request) (fabric.Submission, error)
	Lookup(ctx context.Context, identity, txID string) (fabric.TxRecord, error)
	Ready(ctx context.Context) error
	// WaitForBlock returns once the identity's organisation's peer has
	// committed block, or a *fabric.BehindError when ctx ends first.
	WaitForBlock(ctx context.Context, identity string, block uint64) error
}

// Key is an accepted API key: its SHA-256, the caller's name and the
// identity (and MSP ID) the gateway signs with for it. Role is that
// identity's shiptrace.role, from its certificate: it decides what the key
// may see of other keys' transactions.
type Key struct {
	Name     string
	Hash     [32]byte
	Identity string
	MSPID    string
	Role     string
}

// Options assembles a Server.
type Options struct {
	Ledger       Ledger
	Journal      *journal.Journal
	Keys         []Key
	Logger       *slog.Logger
	Registry     *prometheus.Registry // served at /metrics to API keys; the API's metrics are registered in it
	MaxBodyBytes int64                // default 1 MiB
	// CommitTimeout bounds how long a write waits for its commit after the
	// caller went away, and how long an async write is followed.
	CommitTimeout time.Duration
	// SettleAfter is how long a transaction of an unfinished idempotent
	// request may take to appear on the ledger before the request is run
	// again (default 2m: past every submit and commit timeout).
	SettleAfter time.Duration
	Now         func() time.Time
	Limits      Limits
	// SyncWait bounds how long a synchronous write waits for its commit
	// (default CommitTimeout); when its caller leaves, it stops at once.
	SyncWait time.Duration
	// MinBlockWait bounds how long a request with X-Min-Block waits for
	// the organisation's peer to reach that block (default 5s).
	MinBlockWait time.Duration
	// CSV bounds logger CSV files on the readings route (csvupload.go).
	CSV CSVLimits
	// Mount adds routes outside the API (the public tracking page,
	// gateway/web) to the same server: they get request IDs, the access
	// log, metrics and recovery, and no API key.
	Mount []func(*echo.Echo)
	// EPCIS names members, products and sensors in EPCIS documents.
	EPCIS epcis.Identifiers
}

// Server is the REST API.
type Server struct {
	e            *echo.Echo
	ledger       Ledger
	journal      *journal.Journal
	keys         atomic.Pointer[map[[32]byte]Key] // replaced whole by SetKeys
	log          *slog.Logger
	doc          *openapi3.T
	docJSON      []byte
	maxBody      int64
	commit       time.Duration
	syncWait     time.Duration
	settleAfter  time.Duration
	now          func() time.Time
	metrics      *httpMetrics
	registry     *prometheus.Registry
	limiter      *limiter
	admission    *admission
	csv          CSVLimits
	minBlockWait time.Duration
	epcisIDs     epcis.Identifiers

	base   context.Context // outlives requests: async commit followers
	cancel context.CancelFunc
	async  sync.WaitGroup

	mu       sync.Mutex
	tracking map[string]bool // async transactions followed by this process
	ready    readyCache
}

type readyCache struct {
	at  time.Time
	err error
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Ledger == nil || o.Journal == nil {
		return nil, errors.New("api: a ledger and a journal are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = time.Minute
	}
	if o.SyncWait <= 0 {
		o.SyncWait = o.CommitTimeout
	}
	if o.SettleAfter <= 0 {
		o.SettleAfter = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinBlockWait <= 0 {
		o.MinBlockWait = 5 * time.Second
	}
	doc, docJSON, err := loadDocument()
	if err != nil {
		return nil, err
	}
	s := &Server{
		ledger: o.Ledger, journal: o.Journal, log: o.Logger, doc: doc, docJSON: docJSON,
		maxBody: o.MaxBodyBytes, commit: o.CommitTimeout, syncWait: o.SyncWait, settleAfter: o.SettleAfter,
		now: o.Now, metrics: newHTTPMetrics(o.Registry), registry: o.Registry, tracking: map[string]bool{},
		limiter: newLimiter(o.Limits), admission: newAdmission(o.Limits), csv: o.CSV.withDefaults(),
		minBlockWait: o.MinBlockWait,
		epcisIDs:     o.EPCIS,
	}
	if err := s.SetKeys(o.Keys); err != nil {
		return nil, err
	}
	s.base, s.cancel = context.WithCancel(context.Background())

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID, s.observe, middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", slog.String("request_id", requestIDOf(c)),
				slog.String("error", err.Error()), slog.String("stack", string(stack)))
			return err
		},
	}))
	e.GET("/healthz", s.health)
	e.GET("/readyz", s.readiness)
	// Metrics name routes, transactions and peers: callers with an API key
	// only. Prometheus on a private network can scrape an unauthenticated
	// copy from a separate listener (MetricsHandler, metrics_listen).
	e.GET("/metrics", echo.WrapHandler(s.MetricsHandler()), s.authenticate)
	e.GET("/v1/openapi.json", s.openapi)

	// Middleware is attached per route, not to a group: a group with
	// middleware answers unknown methods with 404 instead of 405.
	mw := []echo.MiddlewareFunc{s.authenticate, s.limit, s.readBody, s.validate, s.minBlock, s.admit}
	v1 := e.Group("/v1")
	v1.POST("/shipments", s.createShipment, mw...)
	v1.GET("/shipments", s.listShipments, mw...)
	v1.GET("/shipments/:id", s.getShipment, mw...)
	v1.GET("/shipments/:id/history", s.shipmentHistory, mw...)
	v1.GET("/shipments/:id/claims", s.listClaims, mw...)
	v1.GET("/shipments/:id/readings", s.listReadings, mw...)
	v1.POST("/shipments/:id/readings", s.recordReadings, mw...)
	v1.POST("/shipments/:id/sensors", s.registerSensors, mw...)
	v1.POST("/shipments/:id/documents", s.attachDocument, mw...)
	v1.POST("/shipments/:id/ship", s.simple("Ship"), mw...)
	v1.POST("/shipments/:id/handover", s.handOver, mw...)
	v1.POST("/shipments/:id/deliver", s.simple("Deliver"), mw...)
	v1.POST("/shipments/:id/reject", s.withReason("Reject"), mw...)
	v1.POST("/shipments/:id/cancel", s.withReason("Cancel"), mw...)
	v1.POST("/shipments/:id/overdue", s.simple("FlagOverdue"), mw...)
	v1.GET("/shipments/:id/buyer-contact", s.getBuyerContact, mw...)
	v1.PUT("/shipments/:id/buyer-contact", s.setBuyerContact, mw...)
	v1.DELETE("/shipments/:id/buyer-contact", s.deleteBuyerContact, mw...)
	v1.PUT("/shipments/:id/plots", s.putPlots, mw...)
	v1.GET("/shipments/:id/plots", s.getPlots, mw...)
	v1.DELETE("/shipments/:id/plots", s.erasePlots, mw...)
	v1.POST("/shipments/:id/due-diligence", s.recordDueDiligence, mw...)
	v1.GET("/transactions/:txId", s.getTransaction, mw...)
	v1.GET("/shipments/:id/epcis", s.shipmentEPCIS, mw...)
	v1.GET("/epcis/events", s.epcisEvents, mw...)
	v1.POST("/epcis/events", s.captureEPCIS, mw...)
	for _, mount := range o.Mount {
		mount(e)
	}
	s.e = e
	return s, nil
}

// SetKeys replaces the accepted API keys while the server runs: a request
// authenticates against the set current when it arrives. On error the keys
// stay as they were.
func (s *Server) SetKeys(keys []Key) error {
	m := make(map[[32]byte]Key, len(keys))
	for _, k := range keys {
		if _, dup := m[k.Hash]; dup {
			return fmt.Errorf("api: API key %s is configured twice", k.Name)
		}
		m[k.Hash] = k
	}
	s.keys.Store(&m)
	return nil
}

// MetricsHandler serves the registry's metrics without authentication, for
// a listener of its own that only the operator's Prometheus reaches.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// Handler is the HTTP handler to serve.
func (s *Server) Handler() http.Handler { return s.e }

// Routes lists the registered routes (the OpenAPI test compares them).
func (s *Server) Routes() []*echo.Route { return s.e.Routes() }

// Close waits for the async commit followers (bounded by ctx), then stops
// them. Call it after the HTTP server has shut down.
func (s *Server) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.async.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return fmt.Errorf("async transactions still pending at shutdown (their status is kept in the journal): %w", ctx.Err())
	}
}

func loadDocument() (*openapi3.T, []byte, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiYAML)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, nil, fmt.Errorf("openapi document: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("openapi document: %w", err)
	}
	return doc, b, nil
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID keeps a caller's X-Request-Id when it is short and plain (so it
// is safe in logs) and makes one otherwise.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func requestIDOf(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

// observe writes the access log line and the request metrics. It settles the
// error itself so that the status it records is the one sent.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		began := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" || c.Response().Status == http.StatusNotFound && !s.knownRoute(route) {
			route = "unmatched"
		}
		status := c.Response().Status
		label := strconv.Itoa(status)
		if closed, _ := c.Get(ctxClientClosed).(bool); closed {
			label = "client_closed"
		}
		elapsed := time.Since(began)
		s.metrics.observe(c.Request().Method, route, label, elapsed)
		attrs := []slog.Attr{
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", c.Request().Method),
			slog.String("route", route),
			slog.String("path", loggedPath(c)),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytes_out", c.Response().Size),
			slog.String("remote", c.RealIP()),
		}
		if k, ok := c.Get(ctxCaller).(Key); ok {
			attrs = append(attrs, slog.String("caller", k.Name), slog.String("identity", k.Identity))
		}
		if tx, ok := c.Get(ctxTxID).(string); ok {
			attrs = append(attrs, slog.String("tx_id", tx))
		}
		if c.Response().Header().Get("Idempotent-Replayed") == "true" {
			attrs = append(attrs, slog.Bool("replayed", true))
		}
		if label == "client_closed" {
			attrs = append(attrs, slog.Bool("client_closed", true))
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "http request", attrs...)
		return nil
	}
}

// loggedPath is the request's path, except where it carries a bearer
// token (the tracking page's /track/:token): there only the route is
// logged, so the access log cannot hand out working links.
func loggedPath(c echo.Context) string {
	if slices.Contains(c.ParamNames(), "token") {
		return c.Path()
	}
	return c.Request().URL.Path
}

func (s *Server) knownRoute(path string) bool {
	for _, r := range s.e.Routes() {
		if r.Path == path {
			return true
		}
	}
	return false
}

const (
	ctxCaller = "shiptrace.caller"
	ctxTxID   = "shiptrace.txid"
	ctxBody   = "shiptrace.body"
	// ctxClientClosed marks a request whose caller went away before the
	// answer (nginx's 499): not the gateway's failure.
	ctxClientClosed = "shiptrace.client_closed"
)

// authenticate accepts the API key as "Authorization: Bearer <key>" or
// "X-API-Key: <key>" and finds the identity it maps to by the key's hash.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if k, ok := c.Request().Context().Value(callerKey{}).(Key); ok {
			c.Set(ctxCaller, k) // an in-process call (Do) by a face that authenticated it
			return next(c)
		}
		key := c.Request().Header.Get("X-API-Key")
		if auth := c.Request().Header.Get(echo.HeaderAuthorization); key == "" && auth != "" {
			const prefix = "Bearer "
			if len(auth) > len(prefix) && equalFold(auth[:len(prefix)], prefix) {
				key = auth[len(prefix):]
			}
		}
		if key == "" {
			return problem(http.StatusUnauthorized, "unauthenticated", "An API key is required",
				"send it as Authorization: Bearer <key> or X-API-Key")
		}
		k, ok := s.KeyFor(key)
		if !ok {
			return problem(http.StatusUnauthorized, "unauthenticated", "The API key is not valid", "")
		}
		c.Set(ctxCaller, k)
		return next(c)
	}
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func callerOf(c echo.Context) Key {
	k, _ := c.Get(ctxCaller).(Key)
	return k
}

func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness asks the ledger at most once a second, so probes cannot load the
// peers.
func (s *Server) readiness(c echo.Context) error {
	s.mu.Lock()
	cached := s.ready
	s.mu.Unlock()
	err := cached.err
	if s.now().Sub(cached.at) > time.Second {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		err = s.ledger.Ready(ctx)
		cancel()
		s.mu.Lock()
		s.ready = readyCache{at: s.now(), err: err}
		s.mu.Unlock()
	}
	if err != nil {
		p := problem(http.StatusServiceUnavailable, "not-ready", "Not ready", "a peer is unreachable or the chaincode does not answer")
		p.retryAfter, p.cause = 2, err
		return p
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, s.docJSON)
}

func writeJSON(c echo.Context, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"type":"urn:shiptrace:problem:internal","title":"Internal error","status":500}`)
		status = http.StatusInternalServerError
	}
	_ = c.Blob(status, contentType, b)
}
