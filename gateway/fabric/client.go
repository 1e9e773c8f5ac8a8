// Package fabric is the gateway's adapter over fabric-gateway: it holds one
// gRPC connection per peer, a signing identity per consortium member the
// gateway speaks for, and turns every call into a bounded, classified
// operation (timeouts on each stage, MVCC conflicts retried, contract
// refusals told apart from network failures, failover to another peer of the
// organisation).
package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/network/connection"
	"github.com/shiptrace/shiptrace/shipment"
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

// Request is one transaction invocation as the named identity.
type Request struct {
	Identity  string
	Tx        string
	Args      []string
	Transient map[string][]byte
	// EndorsingOrgs restricts endorsement to these organisations (private
	// data written from transient data must reach only its owners' peers).
	EndorsingOrgs []string
	// OnTxID, when set, is called with each transaction ID before that
	// transaction is endorsed (retries get new IDs), so a caller can record
	// it durably first; an error stops the call.
	OnTxID func(ctx context.Context, txID string) error
}

// Committed is a transaction that the channel accepted.
type Committed struct {
	TxID        string
	BlockNumber uint64
	Result      []byte
	Attempts    int // 1 unless MVCC conflicts were retried
}

// Submission is a transaction the orderer has accepted and whose commit is
// still to be awaited.
type Submission interface {
	TxID() string
	// Wait blocks until the transaction commits (retrying it on MVCC
	// conflicts) or ctx ends.
	Wait(ctx context.Context) (Committed, error)
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

func (r Request) proposalOptions() []client.ProposalOption {
	opts := []client.ProposalOption{client.WithArguments(r.Args...)}
	if len(r.Transient) > 0 {
		opts = append(opts, client.WithTransient(r.Transient))
	}
	if len(r.EndorsingOrgs) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(r.EndorsingOrgs...))
	}
	return opts
}

// Evaluate runs a query on one peer of the member's organisation.
func (c *Client) Evaluate(ctx context.Context, req Request) ([]byte, error) {
	m, err := c.member(req.Identity)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	c.catchUp(ctx, m)
	var out []byte
	err = c.each(ctx, m, func(p *peerGateway) error {
		prop, err := p.contract.NewProposal(req.Tx, req.proposalOptions()...)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, c.opts.EvaluateTimeout)
		defer cancel()
		out, err = prop.EvaluateWithContext(cctx)
		return err
	})
	err = classify(StageEvaluate, "", err)
	c.metrics.observe(StageEvaluate, req.Tx, start, err)
	return out, err
}

// Submit endorses, submits and waits for the commit of a transaction,
// retrying it on MVCC conflicts.
func (c *Client) Submit(ctx context.Context, req Request) (Committed, error) {
	s, err := c.Start(ctx, req)
	if err != nil {
		return Committed{}, err
	}
	return s.Wait(ctx)
}

// Start endorses a transaction and hands it to the orderer, returning as soon
// as the orderer accepted it. A contract refusal surfaces here, before
// anything is ordered.
func (c *Client) Start(ctx context.Context, req Request) (Submission, error) {
	m, err := c.member(req.Identity)
	if err != nil {
		return nil, err
	}
	c.catchUp(ctx, m)
	p := &pending{c: c, m: m, req: req, attempts: 1}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

type pending struct {
	c        *Client
	m        *member
	req      Request
	firstID  string
	txn      *client.Transaction
	commit   *client.Commit
	attempts int
	// endorseRetries counts endorsements repeated because endorsers
	// disagreed (bounded by MVCCRetries).
	endorseRetries int
}

func (p *pending) TxID() string { return p.firstID }

// start endorses and submits one attempt.
func (p *pending) start(ctx context.Context) error {
	c, req := p.c, p.req
	var txn *client.Transaction
	began := time.Now()
	err := c.each(ctx, p.m, func(pg *peerGateway) error {
		prop, err := pg.contract.NewProposal(req.Tx, req.proposalOptions()...)
		if err != nil {
			return err
		}
		if req.OnTxID != nil {
			if err := req.OnTxID(ctx, prop.TransactionID()); err != nil {
				return fmt.Errorf("record transaction %s: %w", prop.TransactionID(), err)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, c.opts.EndorseTimeout)
		defer cancel()
		txn, err = prop.EndorseWithContext(cctx)
		return err
	})
	if err != nil {
		var endorse *client.EndorseError
		txID := ""
		if errors.As(err, &endorse) {
			txID = endorse.TransactionID
		}
		err = classify(StageEndorse, txID, err)
		c.metrics.observe(StageEndorse, req.Tx, began, err)
		if stale(err) && p.endorseRetries < c.opts.MVCCRetries {
			// Endorsers that disagree have usually read different
			// versions: one peer had not yet committed the latest
			// block. Like an MVCC conflict, it passes in a moment.
			p.endorseRetries++
			c.metrics.mvccRetries.WithLabelValues(req.Tx).Inc()
			if err := pause(ctx, p.endorseRetries); err != nil {
				return classify(StageEndorse, txID, err)
			}
			return p.start(ctx)
		}
		return err
	}
	c.metrics.observe(StageEndorse, req.Tx, began, nil)
	if p.firstID == "" {
		p.firstID = txn.TransactionID()
	}
	p.txn = txn

	began = time.Now()
	first := true
	err = c.each(ctx, p.m, func(pg *peerGateway) error {
		t := txn
		if !first {
			// Resend the same signed transaction through another peer: the
			// same ID, so the ledger can never hold it twice.
			b, err := txn.Bytes()
			if err != nil {
				return err
			}
			if t, err = pg.gw.NewTransaction(b); err != nil {
				return err
			}
		}
		first = false
		cctx, cancel := context.WithTimeout(ctx, c.opts.SubmitTimeout)
		defer cancel()
		commit, err := t.SubmitWithContext(cctx)
		if err == nil {
			p.commit = commit
		}
		return err
	})
	err = classify(StageSubmit, txn.TransactionID(), err)
	c.metrics.observe(StageSubmit, req.Tx, began, err)
	return err
}

// Wait waits for the commit and, while the peer reports an MVCC or phantom
// read conflict, endorses and submits the transaction again (bounded).
func (p *pending) Wait(ctx context.Context) (Committed, error) {
	c := p.c
	for {
		st, err := p.status(ctx)
		if err != nil {
			return Committed{}, err
		}
		if st.Successful {
			p.c.committed(p.m, st.BlockNumber)
			return Committed{TxID: st.TransactionID, BlockNumber: st.BlockNumber, Result: p.txn.Result(), Attempts: p.attempts}, nil
		}
		conflict := st.Code == peer.TxValidationCode_MVCC_READ_CONFLICT || st.Code == peer.TxValidationCode_PHANTOM_READ_CONFLICT
		cerr := &Error{Stage: StageCommit, TxID: st.TransactionID, TxCode: st.Code.String(), Retryable: conflict,
			Err: fmt.Errorf("transaction %s failed validation: %s", st.TransactionID, st.Code)}
		if !conflict || p.attempts > c.opts.MVCCRetries {
			return Committed{}, cerr
		}
		c.metrics.mvccRetries.WithLabelValues(p.req.Tx).Inc()
		if err := pause(ctx, p.attempts); err != nil {
			return Committed{}, classify(StageCommit, st.TransactionID, err)
		}
		p.attempts++
		if err := p.start(ctx); err != nil {
			return Committed{}, err
		}
	}
}

func (p *pending) status(ctx context.Context) (*client.Status, error) {
	c := p.c
	began := time.Now()
	var st *client.Status
	first := true
	err := c.each(ctx, p.m, func(pg *peerGateway) error {
		commit := p.commit
		if !first {
			b, err := p.commit.Bytes()
			if err != nil {
				return err
			}
			if commit, err = pg.gw.NewCommit(b); err != nil {
				return err
			}
		}
		first = false
		cctx, cancel := context.WithTimeout(ctx, c.opts.CommitTimeout)
		defer cancel()
		var err error
		st, err = commit.StatusWithContext(cctx)
		return err
	})
	err = classify(StageCommitStatus, p.commit.TransactionID(), err)
	c.metrics.observe(StageCommitStatus, p.req.Tx, began, err)
	return st, err
}

// Ready checks that every member's organisation has a reachable peer whose
// chaincode answers: a query for a shipment that does not exist must come
// back as the contract's NOT_FOUND (or any other refusal), not as a failure.
func (c *Client) Ready(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ok   = map[string]bool{} // MSP ID -> some identity of it got an answer
		errs = map[string][]error{}
	)
	for name, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Evaluate(ctx, Request{Identity: name, Tx: "ReadShipment", Args: []string{"readiness-probe"}})
			mu.Lock()
			defer mu.Unlock()
			// A refusal by the contract is an answer from the chaincode.
			if err == nil || shipment.ErrorCode(err) != "" {
				ok[m.MSPID] = true
			} else {
				errs[m.MSPID] = append(errs[m.MSPID], fmt.Errorf("identity %s: %w", name, err))
			}
		}()
	}
	wg.Wait()
	// One organisation's peer answering for any of its identities is enough:
	// a single revoked or expired device certificate must not take the whole
	// gateway out of service.
	var failed []error
	for msp, e := range errs {
		if !ok[msp] {
			failed = append(failed, e...)
		}
	}
	return errors.Join(failed...)
}

// committed records that a member's write committed in block: its own peer
// has that block, and every other member's peer must reach it before the
// gateway acts for that member.
func (c *Client) committed(m *member, block uint64) {
	raiseTo(&c.height, block+1)
	raiseTo(&m.seen, block+1)
}

// catchUp makes the gateway read its own writes across members: a commit
// status comes from the submitting member's peer only, so right after the
// exporter ships, the retailer's peer may not have the block yet, and the
// retailer's next call would see the old state (a CONFLICT such as "status is
// CREATED"). When a write committed at a height this member's peer is not
// known to have reached, it waits, bounded by the evaluate timeout, until the
// peer reports it. A peer that cannot answer is not waited for: the request
// goes ahead and meets the usual errors.
func (c *Client) catchUp(ctx context.Context, m *member) {
	want := c.height.Load()
	if m.seen.Load() >= want {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.EvaluateTimeout)
	defer cancel()
	for {
		h, err := c.chainHeight(ctx, m)
		if err != nil {
			return
		}
		raiseTo(&m.seen, h)
		if h >= want {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// chainHeight asks the member's preferred peer for the channel height.
func (c *Client) chainHeight(ctx context.Context, m *member) (uint64, error) {
	p := m.peers[int(m.preferred.Load())%len(m.peers)]
	raw, err := p.qscc.EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(c.opts.Channel))
	if err != nil {
		return 0, err
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(raw, &info); err != nil {
		return 0, err
	}
	return info.GetHeight(), nil
}

func raiseTo(v *atomic.Uint64, n uint64) {
	for {
		cur := v.Load()
		if cur >= n || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// pause waits a short random time that grows with the attempt, spreading
// out writers racing for the same key.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(20*time.Millisecond)*int64(attempt))) + 5*time.Millisecond
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// stale reports an endorsement that failed because the endorsers disagreed
// (gRPC Aborted without a contract refusal).
func stale(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Stage == StageEndorse && fe.Code == codes.Aborted
}
