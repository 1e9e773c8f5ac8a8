// Package fabric is the gateway's adapter over fabric-gateway: it holds one
// gRPC connection per peer, a signing identity per consortium member the
// gateway speaks for, and turns every call into a bounded, classified
// operation (timeouts on each stage, MVCC conflicts retried, contract
// refusals told apart from network failures, failover to another peer of the
// organisation).
//
// One file per concept, as fabric-gateway's pkg/client: client.go (members,
// options, connections, failover across an organisation's peers),
// transaction.go (evaluate, submit, the pending transaction and its retries),
// readiness.go (readiness and read-your-writes across members), errors.go
// (classification), ledger.go (the API's ledger port), metrics.go.
package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/shiptrace/shiptrace/network/connection"
)

// Member is one Fabric identity the gateway signs with: a name that API keys
// refer to, the organisation's MSP ID, the user's certificate, key and TLS
// client certificate, and the organisation's peers in order of preference.
type Member struct {
	Name  string
	MSPID string
	User  connection.User
	Peers []connection.Peer
}

// Options bounds every call. Zero values take the defaults.
type Options struct {
	Channel         string
	Chaincode       string
	EvaluateTimeout time.Duration // default 10s
	EndorseTimeout  time.Duration // default 30s
	SubmitTimeout   time.Duration // default 10s
	CommitTimeout   time.Duration // default 60s
	// MVCCRetries is how many times a transaction that lost an MVCC or
	// phantom read conflict is endorsed and submitted again (default 3; a
	// negative value disables retries).
	MVCCRetries int
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // nil: metrics are not registered
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.EvaluateTimeout, 10*time.Second)
	def(&o.EndorseTimeout, 30*time.Second)
	def(&o.SubmitTimeout, 10*time.Second)
	def(&o.CommitTimeout, time.Minute)
	if o.MVCCRetries == 0 {
		o.MVCCRetries = 3
	} else if o.MVCCRetries < 0 {
		o.MVCCRetries = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Channel == "" {
		o.Channel = "supplychain"
	}
	if o.Chaincode == "" {
		o.Chaincode = "shiptrace"
	}
}

// Client talks to the channel's chaincode on behalf of several members.
type Client struct {
	opts    Options
	conns   []*grpc.ClientConn
	members map[string]*member
	metrics *metrics
	// height is one past the highest block a write through this gateway
	// committed in, on any member's peer.
	height atomic.Uint64
}

type member struct {
	Member
	peers     []*peerGateway
	preferred atomic.Int32
	seen      atomic.Uint64 // a channel height this member's peer is known to have reached
}

type peerGateway struct {
	endpoint string
	gw       *client.Gateway
	contract *client.Contract
	qscc     *client.Contract
}

// Open connects lazily to the members' peers: one gRPC connection per peer
// endpoint, shared by every member that uses it (the first member's TLS
// client certificate authenticates the connection).
func Open(members []Member, opts Options) (*Client, error) {
	opts.defaults()
	c := &Client{opts: opts, members: map[string]*member{}, metrics: newMetrics(opts.Registerer)}
	conns := map[string]*grpc.ClientConn{}
	for _, m := range members {
		if _, dup := c.members[m.Name]; dup {
			c.Close()
			return nil, fmt.Errorf("identity %q is configured twice", m.Name)
		}
		if len(m.Peers) == 0 {
			c.Close()
			return nil, fmt.Errorf("identity %q has no peers", m.Name)
		}
		id, sign, err := connection.Identity(m.MSPID, m.User)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("identity %q: %w", m.Name, err)
		}
		mem := &member{Member: m}
		for _, p := range m.Peers {
			conn, ok := conns[p.Endpoint]
			if !ok {
				conn, err = connection.Dial(p, m.User)
				if err != nil {
					c.Close()
					return nil, fmt.Errorf("identity %q: %w", m.Name, err)
				}
				conns[p.Endpoint] = conn
				c.conns = append(c.conns, conn)
			}
			// The WithContext variants used below ignore these; they are
			// a backstop for any call that does not pass a context.
			gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
				client.WithEvaluateTimeout(opts.EvaluateTimeout), client.WithEndorseTimeout(opts.EndorseTimeout),
				client.WithSubmitTimeout(opts.SubmitTimeout), client.WithCommitStatusTimeout(opts.CommitTimeout))
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("identity %q at %s: %w", m.Name, p.Endpoint, err)
			}
			net := gw.GetNetwork(opts.Channel)
			mem.peers = append(mem.peers, &peerGateway{
				endpoint: p.Endpoint, gw: gw,
				contract: net.GetContract(opts.Chaincode),
				qscc:     net.GetContract("qscc"),
			})
		}
		c.members[m.Name] = mem
	}
	return c, nil
}

// Close releases every connection.
func (c *Client) Close() error {
	for _, m := range c.members {
		for _, p := range m.peers {
			p.gw.Close()
		}
	}
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}

// Identities lists the member names with their MSP IDs.
func (c *Client) Identities() map[string]string {
	out := make(map[string]string, len(c.members))
	for name, m := range c.members {
		out[name] = m.MSPID
	}
	return out
}

func (c *Client) member(name string) (*member, error) {
	m, ok := c.members[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownIdentity, name)
	}
	return m, nil
}

// each calls f on the member's peers, starting with the preferred one and
// moving to the next only while the error says the peer is unreachable.
// The peer that answered becomes the preferred one.
func (c *Client) each(ctx context.Context, m *member, f func(p *peerGateway) error) error {
	start := int(m.preferred.Load())
	var err error
	for i := range m.peers {
		idx := (start + i) % len(m.peers)
		p := m.peers[idx]
		if err = f(p); err == nil || !failover(ctx, err) {
			if err == nil && idx != start {
				m.preferred.Store(int32(idx))
			}
			return err
		}
		if i+1 < len(m.peers) {
			c.metrics.failovers.WithLabelValues(p.endpoint).Inc()
			c.opts.Logger.WarnContext(ctx, "peer unreachable, trying the next one",
				slog.String("identity", m.Name), slog.String("peer", p.endpoint), slog.Any("error", err))
		}
	}
	return err
}
