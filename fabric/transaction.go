package fabric

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

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
	for attempt := 1; ; attempt++ {
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
		err = classify(StageEvaluate, m.MSPID, "", err)
		// A read that met an upgrade's switch runs again once the peer
		// has switched (bounded like the endorsements).
		if !switching(err) || attempt > c.opts.MVCCRetries {
			break
		}
		if werr := definitionWait(ctx, attempt); werr != nil {
			break
		}
	}
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
		err = classify(StageEndorse, p.m.MSPID, txID, err)
		c.metrics.observe(StageEndorse, req.Tx, began, err)
		if switching(err) && p.endorseRetries < c.opts.MVCCRetries {
			// An upgrade is committing: the peers switch to the new
			// definition within a block, and discovery sees them within
			// a gossip round (seconds).
			p.endorseRetries++
			c.metrics.endorseRetries.WithLabelValues(req.Tx).Inc()
			if err := definitionWait(ctx, p.endorseRetries); err != nil {
				return classify(StageEndorse, p.m.MSPID, txID, err)
			}
			return p.start(ctx)
		}
		if reendorse(err) && p.endorseRetries < c.opts.MVCCRetries {
			// Endorsers that disagree have usually read different
			// versions: one peer had not yet committed the latest
			// block. Like an MVCC conflict, it passes in a moment.
			p.endorseRetries++
			c.metrics.endorseRetries.WithLabelValues(req.Tx).Inc()
			if err := behind(ctx, p.endorseRetries); err != nil {
				return classify(StageEndorse, p.m.MSPID, txID, err)
			}
			return p.start(ctx)
		}
		return settled(err)
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
	err = classify(StageSubmit, p.m.MSPID, txn.TransactionID(), err)
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
			done := Committed{TxID: st.TransactionID, BlockNumber: st.BlockNumber, Result: p.txn.Result(), Attempts: p.attempts}
			if c.opts.Committed != nil {
				c.opts.Committed(p.req, done)
			}
			return done, nil
		}
		conflict := st.Code == peer.TxValidationCode_MVCC_READ_CONFLICT || st.Code == peer.TxValidationCode_PHANTOM_READ_CONFLICT
		cerr := &Error{Stage: StageCommit, Reason: ReasonInvalidated, TxID: st.TransactionID, TxCode: st.Code.String(),
			Err: fmt.Errorf("transaction %s failed validation: %s", st.TransactionID, st.Code)}
		if conflict {
			cerr.Reason, cerr.Retryable = ReasonConflict, true
		}
		if !conflict || p.attempts > c.opts.MVCCRetries {
			return Committed{}, cerr
		}
		c.metrics.mvccRetries.WithLabelValues(p.req.Tx).Inc()
		if err := pause(ctx, p.attempts); err != nil {
			return Committed{}, classify(StageCommit, p.m.MSPID, st.TransactionID, err)
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
	err = classify(StageCommitStatus, p.m.MSPID, p.commit.TransactionID(), err)
	c.metrics.observe(StageCommitStatus, p.req.Tx, began, err)
	return st, err
}

// pause waits before an MVCC retry: a random time up to 25 ms doubled per
// attempt, at most a second (full jitter). Conflicting transactions that
// retry after the same short pause land in the same next block and
// conflict again (eight loggers registering their sensors at once on one
// shipment lost four batches with a fixed 5-25 ms per attempt); spreading
// them over several blocks lets each win in turn.
func pause(ctx context.Context, attempt int) error {
	d := 5*time.Millisecond + time.Duration(rand.Int64N(int64(min(time.Second, 25*time.Millisecond<<attempt))))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// definitionWait waits for the peers to switch to a new chaincode
// definition: up to a second per attempt, since discovery learns of the
// new definition's package from gossip state messages.
func definitionWait(ctx context.Context, attempt int) error {
	d := min(time.Duration(attempt)*200*time.Millisecond, time.Second) + time.Duration(rand.Int64N(int64(50*time.Millisecond)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// behind waits for a peer that is a block behind to commit it: longer than
// pause, since the block has to travel from the orderer to that peer.
func behind(ctx context.Context, attempt int) error {
	d := time.Duration(attempt)*50*time.Millisecond + time.Duration(rand.Int64N(int64(25*time.Millisecond)))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
