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
)

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

// Client talks to the channel's chaincode on behalf of several members: the
// gateway's API keys, or the notifier's one identity. Every call is bounded
// and classified: timeouts on each stage, MVCC conflicts retried, contract
// refusals told apart from network failures, failover to another peer of the
// organisation.
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
	cert      []byte // DER of the enrolment certificate: who signed a transaction
	peers     []*peerGateway
	preferred atomic.Int32
	seen      atomic.Uint64 // a channel height this member's peer is known to have reached
}

type peerGateway struct {
	endpoint string
	gw       *client.Gateway
	network  *client.Network
	contract *client.Contract
	qscc     *client.Contract
}

// dialed is one gRPC connection and the hash of the TLS client certificate
// it authenticated with.
type dialed struct {
	conn    *grpc.ClientConn
	tlsHash []byte
}

// Open connects lazily to the members' peers: one gRPC connection per peer
// endpoint, shared by every member that uses it (the first member's TLS
// client certificate authenticates the connection).
func Open(members []Member, opts Options) (*Client, error) {
	opts.defaults()
	c := &Client{opts: opts, members: map[string]*member{}, metrics: newMetrics(opts.Registerer)}
	conns := map[string]dialed{}
	for _, m := range members {
		if _, dup := c.members[m.Name]; dup {
			c.Close()
			return nil, fmt.Errorf("identity %q is configured twice", m.Name)
		}
		if len(m.Peers) == 0 {
			c.Close()
			return nil, fmt.Errorf("identity %q has no peers", m.Name)
		}
		id, sign, err := Identity(m.MSPID, m.User)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("identity %q: %w", m.Name, err)
		}
		mem := &member{Member: m, cert: certDER(id.Credentials())}
		for _, p := range m.Peers {
			d, ok := conns[p.Endpoint]
			if !ok {
				if d, err = c.dial(p, m.User); err != nil {
					c.Close()
					return nil, fmt.Errorf("identity %q: %w", m.Name, err)
				}
				conns[p.Endpoint] = d
			}
			gw, err := connectGateway(id, sign, d.conn, d.tlsHash, opts)
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("identity %q at %s: %w", m.Name, p.Endpoint, err)
			}
			net := gw.GetNetwork(opts.Channel)
			mem.peers = append(mem.peers, &peerGateway{
				endpoint: p.Endpoint, gw: gw, network: net,
				contract: net.GetContract(opts.Chaincode),
				qscc:     net.GetContract("qscc"),
			})
		}
		c.members[m.Name] = mem
	}
	return c, nil
}

// dial opens the connection to a peer that the client's members share,
// authenticated by user's TLS client certificate.
func (c *Client) dial(p Peer, user User) (dialed, error) {
	tlsHash, err := tlsHashOf(user)
	if err != nil {
		return dialed{}, err
	}
	conn, err := Dial(p, user)
	if err != nil {
		return dialed{}, err
	}
	c.conns = append(c.conns, conn)
	return dialed{conn: conn, tlsHash: tlsHash}, nil
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

// Network is fabric-gateway's view of the channel through the member's
// preferred peer, for what the Client does not wrap: event streams (the
// notifier follows the contract's events with fabric-gateway's checkpoints).
func (c *Client) Network(identity string) (*client.Network, error) {
	m, err := c.member(identity)
	if err != nil {
		return nil, err
	}
	return m.peers[int(m.preferred.Load())%len(m.peers)].network, nil
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
