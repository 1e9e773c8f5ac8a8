package fabric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
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
	// phantom read conflict is endorsed and submitted again (default 10; a
	// negative value disables retries). Ten, because losers of one block
	// retry into the next and only one of them can win a contended key per
	// block: eight loggers starting at once on one shipment, each
	// registering its sensor in the record, needed up to eight attempts
	// (TestConcurrentLoggersOnOneShipment), and with six retries one batch
	// in 32 was answered 503 in CI. Ten retries wait at most about 6 s in
	// all (see pause).
	MVCCRetries int
	// Committed, if set, is called after each transaction this client
	// submitted has committed VALID, with its request: the gateway's
	// tracking page drops its copy of a shipment the gateway itself just
	// changed, before the chaincode event would tell it.
	Committed  func(Request, Committed)
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
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
		o.MVCCRetries = 10
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
// organisation. Its members can change while it serves (Update).
type Client struct {
	opts    Options
	members atomic.Pointer[map[string]*member] // replaced whole, never changed in place
	metrics *metrics
	// height is one past the highest block a write through this gateway
	// committed in, on any member's peer.
	height atomic.Uint64

	mu    sync.Mutex        // serialises Update and Close
	conns map[string]dialed // by peer endpoint, shared by every member that uses it
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
	c := &Client{opts: opts, metrics: newMetrics(opts.Registerer), conns: map[string]dialed{}}
	c.members.Store(&map[string]*member{})
	if err := c.Update(members); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Update makes members the client's members, while it serves: a new member
// is connected (over the connection to its peer endpoint, if one is open), a
// member that is gone is closed, and one whose certificate, key or peers
// changed is connected afresh. A member that did not change keeps its state.
// Calls in flight finish with the member they started with. On error
// nothing changes.
func (c *Client) Update(members []Member) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.members.Load()
	next := make(map[string]*member, len(members))
	var fresh []*member
	fail := func(err error) error {
		for _, m := range fresh {
			m.close()
		}
		return err
	}
	for _, m := range members {
		if _, dup := next[m.Name]; dup {
			return fail(fmt.Errorf("identity %q is configured twice", m.Name))
		}
		if len(m.Peers) == 0 {
			return fail(fmt.Errorf("identity %q has no peers", m.Name))
		}
		id, sign, err := Identity(m.MSPID, m.User)
		if err != nil {
			return fail(fmt.Errorf("identity %q: %w", m.Name, err))
		}
		cert := certDER(id.Credentials())
		if prev, ok := old[m.Name]; ok && reflect.DeepEqual(prev.Member, m) && bytes.Equal(prev.cert, cert) {
			next[m.Name] = prev
			continue
		}
		mem := &member{Member: m, cert: cert}
		fresh = append(fresh, mem)
		for _, p := range m.Peers {
			d, ok := c.conns[p.Endpoint]
			if !ok {
				if d, err = c.dial(p, m.User); err != nil {
					return fail(fmt.Errorf("identity %q: %w", m.Name, err))
				}
				c.conns[p.Endpoint] = d
			}
			gw, err := connectGateway(id, sign, d.conn, d.tlsHash, c.opts)
			if err != nil {
				return fail(fmt.Errorf("identity %q at %s: %w", m.Name, p.Endpoint, err))
			}
			net := gw.GetNetwork(c.opts.Channel)
			mem.peers = append(mem.peers, &peerGateway{
				endpoint: p.Endpoint, gw: gw, network: net,
				contract: net.GetContract(c.opts.Chaincode),
				qscc:     net.GetContract("qscc"),
			})
		}
		next[m.Name] = mem
	}
	c.members.Store(&next)
	for name, m := range old {
		if next[name] != m {
			m.close()
		}
	}
	return nil
}

func (m *member) close() {
	for _, p := range m.peers {
		p.gw.Close()
	}
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
	return dialed{conn: conn, tlsHash: tlsHash}, nil
}

// Close releases every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range *c.members.Load() {
		m.close()
	}
	var errs []error
	for _, d := range c.conns {
		errs = append(errs, d.conn.Close())
	}
	return errors.Join(errs...)
}

// Identities lists the member names with their MSP IDs.
func (c *Client) Identities() map[string]string {
	members := *c.members.Load()
	out := make(map[string]string, len(members))
	for name, m := range members {
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
	m, ok := (*c.members.Load())[name]
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
