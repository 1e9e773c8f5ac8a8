package hosts_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkCatchUp1000Blocks is issue 18's "time for the partitioned peer
// to catch up per thousand blocks", measured rather than extrapolated from
// the partition test's hundred: the exporter's host is cut off while the
// carrier and the retailer commit blocks of one-reading batches on the
// carrier's shipments (their peers only), until the exporter's peer is
// SHIPTRACE_BENCH_BLOCKS (1,000) blocks behind; then the link returns and
// the benchmark times the peer back to the others' height, split into the
// wait before its first new block (Fabric's deliver client sleeping out its
// reconnection back-off: 100 ms × 1.2^n per failed attempt, capped by
// peer.deliveryclient.reConnectBackoffThreshold) and the transfer.
//
//	go test ./test/hosts -run '^$' -bench CatchUp1000Blocks -benchtime 1x -timeout 30m
func BenchmarkCatchUp1000Blocks(b *testing.B) {
	blocks := uint64(1000)
	if v, err := strconv.Atoi(os.Getenv("SHIPTRACE_BENCH_BLOCKS")); err == nil && v > 0 {
		blocks = uint64(v)
	}
	net := testnet.RequireHosts(b)
	local := net.Local(b)
	c := net.System(b).Client()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	exporterPeer, _ := local.Layout.PeerOf(topology.ExporterOrg.MSPID)
	carrierPeer, _ := local.Layout.PeerOf(topology.CarrierOrg.MSPID)

	// One shipment per writer, the carrier's own (exporter CarrierMSP,
	// buyer RetailerMSP) and in its custody, so its readings need neither
	// the exporter's peer nor a key another writer touches.
	const writers = 3
	ids := make([]string, writers)
	for i := range ids {
		ids[i] = walk.NewID("CATCHUP")
		req := walk.NewShipment(ids[i], nil)
		req.Carrier = ""
		if _, err := c.Expect(ctx, http.StatusCreated, "carrier", http.MethodPost, "/v1/shipments", req, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Act(ctx, "carrier", ids[i], "ship", nil, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { _ = local.Isolate(context.Background(), "exporter", false) })
	b.ResetTimer()
	for range b.N {
		from, err := local.PeerHeight(ctx, exporterPeer)
		if err != nil {
			b.Fatal(err)
		}
		if err := local.Isolate(ctx, "exporter", true); err != nil {
			b.Fatal(err)
		}
		cutAt := time.Now()
		w := &tally{byShipment: map[string]int{}, refusedWhy: map[string]int{}}
		policy := walk.RetryPolicy{MaxAttempts: 10, MaxWait: time.Minute, MaxPause: time.Second}
		done := make(chan struct{})
		var wg sync.WaitGroup
		// The writers stop once the others are far enough ahead, or when
		// the benchmark fails before that.
		stopWriters := sync.OnceFunc(func() { close(done); wg.Wait() })
		b.Cleanup(stopWriters)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					case <-ctx.Done():
						return
					default:
					}
					at := time.Now().UTC().Truncate(time.Millisecond)
					body := map[string]any{"readings": []shipment.Reading{{SensorID: "reefer-1", Time: at, Celsius: 4.5}}}
					r, at2, err := c.DoRetry(ctx, policy, "carrier", http.MethodPost, "/v1/shipments/"+ids[i]+"/readings", body, walk.NewID("k"), nil)
					w.record(ids[i], r, at2, err)
				}
			}()
		}
		var target uint64
		if err := walk.Eventually(ctx, 20*time.Minute, time.Second, func() error {
			h, err := local.PeerHeight(ctx, carrierPeer)
			if err != nil || h < from+blocks {
				return fmt.Errorf("others at %d, want %d (%v)", h, from+blocks, err)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		stopWriters()
		target, err = local.PeerHeight(ctx, carrierPeer)
		if err != nil {
			b.Fatal(err)
		}
		stuck, err := local.PeerHeight(ctx, exporterPeer)
		if err != nil {
			b.Fatal(err)
		}
		if stuck != from {
			b.Fatalf("the exporter's peer moved from %d to %d while cut off: the cut did not cut", from, stuck)
		}
		cut := time.Since(cutAt)
		if err := local.Isolate(ctx, "exporter", false); err != nil {
			b.Fatal(err)
		}
		healAt := time.Now()
		back, err := waitCaughtUp(ctx, local, exporterPeer, from, target, 20*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		firstAt, firstHeight := back.firstAt, back.firstHeight
		total, transfer := time.Since(healAt), time.Since(firstAt)
		behind := target - from
		fmt.Printf("catch-up: exporter's peer cut off %s while the others committed %d readings batches (%d refused %v, %d retries) in %d blocks; after the link returned: first new block after %s (reconnection back-off), all %d blocks after %s = %s per 1,000 blocks; transfer alone %d blocks in %s = %s per 1,000 blocks\n",
			cut.Round(time.Second), w.committed, w.refused, w.refusedWhy, w.retries, behind,
			firstAt.Sub(healAt).Round(time.Millisecond), behind, total.Round(time.Millisecond),
			(total * 1000 / time.Duration(behind)).Round(time.Millisecond),
			target-firstHeight, transfer.Round(time.Millisecond),
			(transfer * 1000 / time.Duration(max(target-firstHeight, 1))).Round(time.Millisecond))
	}
}
