package fabric

import (
	"context"
	"fmt"
	"time"
)

// BehindError says a member's peer had not committed the block a caller
// asked for when the wait ended.
type BehindError struct {
	MSPID string
	Have  uint64 // the peer's height: blocks 0..Have-1 are committed
	Want  uint64 // the block asked for
	Err   error  // the last failure to ask the peer, if any
}

func (e *BehindError) Error() string {
	s := fmt.Sprintf("%s's peer has committed blocks up to %d, not yet block %d", e.MSPID, int64(e.Have)-1, e.Want)
	if e.Err != nil {
		s += fmt.Sprintf(" (asking it failed: %v)", e.Err)
	}
	return s
}

func (e *BehindError) Unwrap() error { return e.Err }

// WaitForBlock waits until the peer identity's organisation reads from
// has committed block, bounded by ctx. It is the reading half of the
// consistency token: every write's answer names the block it committed in,
// and a client that sends that number with a read to any member's gateway
// (X-Min-Block) reads that write or a later state, whichever member wrote
// it. Separate gateways share no memory, so only the client can carry it.
func (c *Client) WaitForBlock(ctx context.Context, identity string, block uint64) error {
	m, err := c.member(identity)
	if err != nil {
		return err
	}
	want := block + 1 // the height at which block is committed
	if m.seen.Load() >= want {
		return nil
	}
	var last error
	for {
		h, err := c.chainHeight(ctx, m)
		if err == nil {
			raiseTo(&m.seen, h)
			if h >= want {
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return &BehindError{MSPID: m.MSPID, Have: m.seen.Load(), Want: block, Err: last}
		case <-time.After(20 * time.Millisecond):
		}
	}
}
