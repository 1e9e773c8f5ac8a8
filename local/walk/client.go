// Package walk is the README walk-through as code: it drives the running
// system only through its public interfaces (the gateway's REST API, the
// WhatsApp stand-in's record, the notifier's admin listing). The end-to-end
// tests, the fault tests and the demo command share it.
package walk

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/shipment"
)

// Members are the local consortium's API key names and their MSP IDs.
var Members = map[string]string{"exporter": "ExporterMSP", "carrier": "CarrierMSP", "retailer": "RetailerMSP"}

// System is where the running system's services listen, as `shipnet up`
// recorded them in its data directory.
type System struct {
	Home              string
	GatewayURL        string
	GatewayCA         string // root certificate of the gateway's TLS certificate ("" for plain HTTP)
	NotifierURL       string // the notifier's admin API, which needs NotifierToken
	NotifierHealthURL string // its /healthz, /readyz and /metrics
	NotifierToken     string
	StandinURL        string
	Keys              map[string]string // exporter, carrier, retailer -> API key
	// Gateways, on the hosts layout (shipnet up --hosts), is each member's
	// own gateway: a member's key works only there. Empty on one host, where
	// one gateway (GatewayURL) serves every member.
	Gateways map[string]Gateway
}

// Gateway is one member's gateway.
type Gateway struct {
	URL string
	CA  string // root of its TLS certificate ("" for plain HTTP)
}

// Open reads the data directory of a system brought up by `shipnet up`.
func Open(home string) (*System, error) {
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, err
	}
	st, err := (&localnet.Network{Layout: topology.Layout{Home: home}}).LoadState()
	if err != nil {
		return nil, fmt.Errorf("no network in %s (run scripts/up first): %w", home, err)
	}
	if !st.Services {
		return nil, fmt.Errorf("the network in %s runs without the gateway, notifier and stand-in", home)
	}
	n := &localnet.Network{Layout: topology.Layout{BasePort: st.BasePort, Home: home, Hosts: st.Hosts}, Services: true}
	return FromLocal(n)
}

// FromLocal describes a localnet.Network (testnet's Local gives one).
func FromLocal(n *localnet.Network) (*System, error) {
	keys, err := n.APIKeys()
	if err != nil {
		return nil, err
	}
	for m := range Members {
		if keys[m] == "" {
			return nil, fmt.Errorf("no API key for %s in %s", m, n.Layout.Home)
		}
	}
	token, err := n.NotifierAdminToken()
	if err != nil {
		return nil, err
	}
	sys := &System{Home: n.Layout.Home, GatewayURL: n.GatewayURL(), NotifierURL: n.NotifierURL(),
		NotifierHealthURL: n.NotifierHealthURL(), NotifierToken: token, StandinURL: n.StandinURL(), Keys: keys}
	if strings.HasPrefix(sys.GatewayURL, "https://") {
		sys.GatewayCA = n.GatewayCA()
	}
	if n.Layout.Hosts != nil {
		sys.Gateways = map[string]Gateway{}
		for member, msp := range Members {
			for _, org := range topology.PeerOrgs() {
				if org.MSPID == msp {
					gw := Gateway{URL: n.GatewayURLOf(org)}
					if strings.HasPrefix(gw.URL, "https://") {
						gw.CA = n.GatewayCAOf(org)
					}
					sys.Gateways[member] = gw
				}
			}
		}
	}
	return sys, nil
}

// ReadyClient waits, up to within, until the gateway answers ready and
// returns a client of it.
func (s *System) ReadyClient(ctx context.Context, within time.Duration) (*Client, error) {
	c := s.Client()
	err := Eventually(ctx, within, 250*time.Millisecond, func() error {
		if !c.Ready(ctx) {
			return fmt.Errorf("gateway %s not ready", s.GatewayURL)
		}
		return nil
	})
	return c, err
}

// Client calls the gateway as one of the members, trusting the gateway's
// CA when it speaks HTTPS.
// On the hosts layout each member's requests go to that member's own
// gateway.
func (s *System) Client() *Client {
	c := &Client{Base: s.GatewayURL, Keys: s.Keys, HTTP: gatewayHTTP(s.GatewayCA)}
	for member, gw := range s.Gateways {
		if c.PerMember == nil {
			c.PerMember = map[string]*Client{}
		}
		c.PerMember[member] = &Client{Base: gw.URL, Keys: map[string]string{member: s.Keys[member]}, HTTP: gatewayHTTP(gw.CA)}
	}
	return c
}

func gatewayHTTP(caFile string) *http.Client {
	hc := &http.Client{Timeout: 3 * time.Minute}
	if caFile != "" {
		roots := x509.NewCertPool()
		if pemBytes, err := os.ReadFile(caFile); err == nil {
			roots.AppendCertsFromPEM(pemBytes)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		hc.Transport = t
	}
	return hc
}

// Client is a small REST client for the gateway.
type Client struct {
	Base string
	Keys map[string]string
	HTTP *http.Client
	// PerMember, when set, sends a member's requests to that member's own
	// gateway (the hosts layout).
	PerMember map[string]*Client
}

// Member is the client of member's own gateway (c itself on one host).
func (c *Client) Member(member string) *Client {
	if m, ok := c.PerMember[member]; ok {
		return m
	}
	return c
}

// Response is one HTTP answer.
type Response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

// Decode unmarshals the body.
func (r *Response) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("%s %s: decode %d body: %w: %s", r.Method, r.Path, r.Status, err, clip(r.Body))
	}
	return nil
}

// Problem is the RFC 9457 problem the gateway answers errors with.
type Problem struct {
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Status    int      `json:"status"`
	Detail    string   `json:"detail"`
	Code      string   `json:"code"`
	Errors    []string `json:"errors"`
	TxID      string   `json:"txId"`
	RequestID string   `json:"requestId"`
}

// Slug is the last part of the problem type (unavailable, outcome-unknown, ...).
func (p Problem) Slug() string { return p.Type[strings.LastIndex(p.Type, ":")+1:] }

// Problem decodes the body as a problem (zero if it is not one).
func (r *Response) Problem() Problem {
	var p Problem
	_ = json.Unmarshal(r.Body, &p)
	return p
}

// Err describes an unexpected answer.
func (r *Response) Err() error {
	p := r.Problem()
	return fmt.Errorf("%s %s: %d %s %s %s (request %s)", r.Method, r.Path, r.Status, p.Slug(), p.Code, p.Detail, p.RequestID)
}

// Do sends one request as member (exporter, carrier, retailer; "" for no
// key). body is marshalled as JSON unless nil.
//
// A read (GET) answered 429 is sent again after its Retry-After, a few
// times: reads are safe to repeat, and a client that reads back many
// records at once (a test checking a load, the demo) should pace itself
// to its key's rate rather than fail. Writes are never repeated here; see
// DoRetry.
func (c *Client) Do(ctx context.Context, member, method, path string, body any, header map[string]string) (*Response, error) {
	for attempt := 1; ; attempt++ {
		r, err := c.do(ctx, member, method, path, body, header)
		if err != nil || method != http.MethodGet || r.Status != http.StatusTooManyRequests || attempt == 5 {
			return r, err
		}
		pause := time.Second
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && s > 0 {
			pause = min(time.Duration(s)*time.Second, 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return r, nil
		case <-time.After(pause):
		}
	}
}

func (c *Client) do(ctx context.Context, member, method, path string, body any, header map[string]string) (*Response, error) {
	if m, ok := c.PerMember[member]; ok {
		return m.do(ctx, member, method, path, body, header)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if member != "" {
		key, ok := c.Keys[member]
		if !ok {
			return nil, fmt.Errorf("no API key for member %q", member)
		}
		req.Header.Set("X-API-Key", key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// Expect sends a request and fails unless the answer has the wanted status.
func (c *Client) Expect(ctx context.Context, want int, member, method, path string, body any, header map[string]string) (*Response, error) {
	r, err := c.Do(ctx, member, method, path, body, header)
	if err != nil {
		return nil, err
	}
	if r.Status != want {
		return r, r.Err()
	}
	return r, nil
}

// Receipt is the gateway's answer to a write: the transaction, the
// contract's receipt, and the whole record only when it was asked for
// (ReturnRecord).
type Receipt struct {
	Transaction struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		BlockNumber uint64 `json:"blockNumber"`
		Attempts    int    `json:"attempts"`
	} `json:"transaction"`
	Result       WriteResult        `json:"result"`
	Shipment     *shipment.Shipment `json:"shipment"`
	BuyerContact *struct {
		Stored  bool     `json:"stored"`
		TxID    string   `json:"txId"`
		Problem *Problem `json:"problem"`
	} `json:"buyerContact"`
}

// WriteResult is the contract's receipt of a write, with the block number.
type WriteResult struct {
	ShipmentID  string          `json:"shipmentId"`
	Status      shipment.Status `json:"status"`
	Version     int64           `json:"version"`
	TxID        string          `json:"txId"`
	BlockNumber uint64          `json:"blockNumber"`
	Readings    int             `json:"readings"`
	Late        int             `json:"late"`
	Duplicate   bool            `json:"duplicate"`
	// UpdatedRecord: a readings batch that registered a sensor or found the
	// first breach, which changes the shipment record.
	UpdatedRecord bool `json:"updatedRecord"`
	ColdChain     *struct {
		State        shipment.ColdChainState `json:"state"`
		BreachedAt   time.Time               `json:"breachedAt,omitzero"`
		BreachReason string                  `json:"breachReason,omitempty"`
	} `json:"coldChain,omitempty"`
}

// ReturnRecord asks the gateway to answer a write with the whole record,
// read after the commit (RFC 7240).
var ReturnRecord = map[string]string{"Prefer": "return=representation"}

// HistoryEntry is one committed change of a shipment.
type HistoryEntry struct {
	TxID     string            `json:"txId"`
	Time     time.Time         `json:"time"`
	MSPID    string            `json:"mspId"`
	Shipment shipment.Shipment `json:"shipment"`
}

// Shipment reads the public record.
func (c *Client) Shipment(ctx context.Context, member, id string) (*shipment.Shipment, error) {
	r, err := c.Expect(ctx, http.StatusOK, member, http.MethodGet, "/v1/shipments/"+id, nil, nil)
	if err != nil {
		return nil, err
	}
	var s shipment.Shipment
	return &s, r.Decode(&s)
}

// History reads every committed change, oldest first: it follows the
// gateway's pages (newest first) to the end and reverses them.
func (c *Client) History(ctx context.Context, member, id string) ([]HistoryEntry, error) {
	var all []HistoryEntry
	path := "/v1/shipments/" + id + "/history?pageSize=100"
	for cursor, pages := "", 0; ; pages++ {
		if pages > 1000 {
			return nil, fmt.Errorf("history of %s: more than 1000 pages", id)
		}
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		r, err := c.Expect(ctx, http.StatusOK, member, http.MethodGet, p, nil, nil)
		if err != nil {
			return nil, err
		}
		var h struct {
			Items      []HistoryEntry `json:"items"`
			NextCursor string         `json:"nextCursor"`
		}
		if err := r.Decode(&h); err != nil {
			return nil, err
		}
		all = append(all, h.Items...)
		if cursor = h.NextCursor; cursor == "" {
			break
		}
	}
	slices.Reverse(all)
	return all, nil
}

// Ready reports whether the gateway's /readyz answers 200 (every identity's
// peer answers).
func (c *Client) Ready(ctx context.Context) bool {
	r, err := c.Do(ctx, "", http.MethodGet, "/readyz", nil, nil)
	return err == nil && r.Status == http.StatusOK
}

// Retryable reports whether an answer invites the same request again (with
// the same Idempotency-Key): the gateway's 502/503 problems, and 409
// idempotency-key-in-use while an earlier attempt may still commit.
func Retryable(r *Response) bool {
	switch r.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		http.StatusTooManyRequests: // a caller's limit: nothing was done, Retry-After says when
		return true
	case http.StatusConflict:
		return r.Problem().Slug() == "idempotency-key-in-use"
	}
	return false
}

// Attempt is one try of a retried request: its status (0: transport
// error) and problem slug.
type Attempt struct {
	Status int
	Slug   string
	Err    error
}

func (a Attempt) String() string {
	if a.Err != nil {
		return "transport error: " + a.Err.Error()
	}
	if a.Slug != "" {
		return strconv.Itoa(a.Status) + " " + a.Slug
	}
	return strconv.Itoa(a.Status)
}

// RetryPolicy bounds DoRetry.
type RetryPolicy struct {
	MaxAttempts int           // default 30
	MaxWait     time.Duration // total time budget; default 3 min
	MaxPause    time.Duration // cap on Retry-After; default 2 s
}

// DoRetry sends a write with an Idempotency-Key and repeats it, with the
// same key, while the answer is retryable or the connection fails (the
// gateway itself may be restarting). It returns the last answer and every
// attempt.
func (c *Client) DoRetry(ctx context.Context, p RetryPolicy, member, method, path string, body any, key string, header map[string]string) (*Response, []Attempt, error) {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 30
	}
	if p.MaxWait == 0 {
		p.MaxWait = 3 * time.Minute
	}
	if p.MaxPause == 0 {
		p.MaxPause = 2 * time.Second
	}
	h := map[string]string{"Idempotency-Key": key}
	for k, v := range header {
		h[k] = v
	}
	deadline := time.Now().Add(p.MaxWait)
	var attempts []Attempt
	pause := 200 * time.Millisecond
	for {
		r, err := c.Do(ctx, member, method, path, body, h)
		switch {
		case err != nil:
			attempts = append(attempts, Attempt{Err: err})
			if ctx.Err() != nil || !transient(err) {
				return nil, attempts, err
			}
		case Retryable(r):
			attempts = append(attempts, Attempt{Status: r.Status, Slug: r.Problem().Slug()})
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && s > 0 {
				pause = min(time.Duration(s)*time.Second, p.MaxPause)
			}
		default:
			attempts = append(attempts, Attempt{Status: r.Status, Slug: r.Problem().Slug()})
			return r, attempts, nil
		}
		if len(attempts) >= p.MaxAttempts || time.Now().Add(pause).After(deadline) {
			if r != nil {
				return r, attempts, fmt.Errorf("still retryable after %d attempts: %w", len(attempts), r.Err())
			}
			return nil, attempts, fmt.Errorf("gave up after %d attempts: %w", len(attempts), err)
		}
		select {
		case <-ctx.Done():
			return r, attempts, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, p.MaxPause)
	}
}

// transient: the gateway did not answer (refused, reset, timed out).
func transient(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "connection reset")
}

// Eventually polls cond every interval until it holds or within passed; it
// returns the last error cond gave.
func Eventually(ctx context.Context, within, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
