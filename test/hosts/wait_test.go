package hosts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/local/walk"
)

// requireGatewaysReady waits up to a minute for each founding member's own
// gateway to answer /readyz, and fails the test naming the first that does
// not: on the hosts layout each is a separate process on its own host.
func requireGatewaysReady(ctx context.Context, t testing.TB, c *walk.Client) {
	t.Helper()
	for member := range walk.Members {
		mc := c.Member(member)
		if err := walk.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
			if !mc.Ready(ctx) {
				return fmt.Errorf("%s's gateway at %s not ready", member, mc.Base)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// catchUp is how a peer that was cut off came back: when its first new
// block arrived (the end of its deliver client's reconnection back-off) and
// at which height.
type catchUp struct {
	firstAt     time.Time
	firstHeight uint64
}

// waitCaughtUp polls peer every 20 ms until its height reaches target,
// noting the first poll that finds it above from.
func waitCaughtUp(ctx context.Context, local *localnet.Network, peer topology.Node, from, target uint64, within time.Duration) (catchUp, error) {
	var c catchUp
	err := walk.Eventually(ctx, within, 20*time.Millisecond, func() error {
		h, err := local.PeerHeight(ctx, peer)
		if err == nil && h > from && c.firstAt.IsZero() {
			c.firstAt, c.firstHeight = time.Now(), h
		}
		if err != nil || h < target {
			return fmt.Errorf("%s at %d of %d (%v)", peer.Name, h, target, err)
		}
		return nil
	})
	return c, err
}
