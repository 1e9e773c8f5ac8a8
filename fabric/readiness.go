package fabric

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/shipment"
)

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
	for name, m := range *c.members.Load() {
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

// chainHeight asks the member's preferred peer for the channel height,
// moving on to its next peer while one is unreachable (c.each): the peer
// that answers is the one the member's next read goes to. Asking only the
// preferred peer left a dead first peer's organisation unwaited for, and
// its read, failing over to a peer without the block, saw an old state.
func (c *Client) chainHeight(ctx context.Context, m *member) (uint64, error) {
	var raw []byte
	err := c.each(ctx, m, func(p *peerGateway) error {
		var err error
		raw, err = p.qscc.EvaluateWithContext(ctx, "GetChainInfo", client.WithArguments(c.opts.Channel))
		return err
	})
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
