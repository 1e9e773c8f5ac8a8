package network_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkIngestAgainstOneKey prints how close readings ingest across
// shipments comes to the same network's limit for its nearest reference: a
// one-key write of 12 KB (the reference chaincode's Put), about the bytes a
// 500-reading batch writes. Both run closed-loop with the same number of
// writers (SHIPTRACE_BENCH_CONC, default 32; each readings writer has its
// own shipment and logger) in ABBA slices (SHIPTRACE_BENCH_ROUNDS, default
// 2, of SHIPTRACE_BENCH_SECONDS, default 10) on a private network
// (SHIPTRACE_BENCH_BASE_PORT, default 27300). It prints, it does not assert.
//
//	go test ./test/network -run '^$' -bench IngestAgainstOneKey -benchtime 1x
func BenchmarkIngestAgainstOneKey(b *testing.B) {
	n := upWithReference(b, 27300, false)
	ctx := context.Background()
	exporter, carrier := n.contract(b, "ExporterMSP", n.prof.Chaincode), n.contract(b, "CarrierMSP", n.prof.Chaincode)
	ref := n.contract(b, "ExporterMSP", refChaincode)

	conc := loadgen.EnvInt("SHIPTRACE_BENCH_CONC", 32)
	rounds := loadgen.EnvInt("SHIPTRACE_BENCH_ROUNDS", 2)
	slice := loadgen.EnvSeconds("SHIPTRACE_BENCH_SECONDS", 10*time.Second)
	prefix := testnet.UniqueID("INGEST")
	ids := make([]string, conc)
	next := make([]time.Time, conc)
	var wg sync.WaitGroup
	for w := range ids {
		ids[w] = fmt.Sprintf("%s-%d", prefix, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			arg, _ := json.Marshal(newShipment(ids[w]))
			for _, step := range []struct {
				fn   string
				args []string
			}{{"CreateShipment", []string{string(arg)}}, {"Ship", []string{ids[w]}}, {"HandOver", []string{ids[w], "CarrierMSP"}}} {
				// A peer a block behind endorses differently: try again.
				if _, err := (loadgen.Policy{Attempts: 20, Pause: 200 * time.Millisecond}).Do(ctx, func(ctx context.Context) error {
					_, err := exporter.SubmitWithContext(ctx, step.fn, client.WithArguments(step.args...))
					if err != nil {
						return loadgen.Retryable(err)
					}
					return nil
				}); err != nil {
					b.Errorf("%s %s: %v", step.fn, ids[w], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	for w := range next {
		next[w] = time.Now().Add(time.Second).Truncate(time.Millisecond) // in the carrier's custody
	}
	value := strings.Repeat("x", 12*1024)
	retry := loadgen.Policy{Attempts: 5, Pause: 50 * time.Millisecond}
	var mu sync.Mutex
	readingsOp := func(ctx context.Context, w, _ int) (int, error) {
		mu.Lock()
		at := next[w]
		next[w] = at.Add(500 * time.Millisecond)
		mu.Unlock()
		batch := make([]shipment.Reading, 500)
		for i := range batch {
			batch[i] = shipment.Reading{SensorID: "logger", Time: at.Add(time.Duration(i) * time.Millisecond), Celsius: 5}
		}
		arg, _ := json.Marshal(batch)
		return retry.Do(ctx, func(ctx context.Context) error {
			_, err := carrier.SubmitWithContext(ctx, "RecordReadings", client.WithArguments(ids[w], string(arg)))
			return retryable(err)
		})
	}
	oneKeyOp := func(ctx context.Context, w, seq int) (int, error) {
		return retry.Do(ctx, func(ctx context.Context) error {
			_, err := ref.SubmitWithContext(ctx, "Put", client.WithArguments(fmt.Sprintf("%s-%d-%d", prefix, w, seq), value))
			return retryable(err)
		})
	}
	ops := [2]loadgen.Op{readingsOp, oneKeyOp}
	var results [2]loadgen.Result
	var ratios []float64
	var last [2]float64
	loadgen.ABBA(rounds, func(side, round int) {
		r := loadgen.Closed(ctx, conc, slice, ops[side])
		results[side].Add(r)
		last[side] = r.Rate()
		if (side == 1) == (round%2 == 0) && last[1] > 0 {
			ratios = append(ratios, last[0]/last[1])
		}
	})
	rd, ok := results[0], results[1]
	fmt.Printf("\nReadings ingest against a 12 KB one-key write, private network, %d writers each, %d ABBA slices of %s\n", conc, rounds*2, slice)
	fmt.Printf("  RecordReadings, 500 per batch, one shipment and logger per writer: %.1f tx/s = %.0f readings/s (p50 %.0f ms, p99 %.0f ms, %d errors, %d retries)\n",
		rd.Rate(), rd.Rate()*500, loadgen.Ms(rd.Percentile(0.5)), loadgen.Ms(rd.Percentile(0.99)), rd.Errors, rd.Retries)
	fmt.Printf("  one-key write of 12 KB: %.1f tx/s (p50 %.0f ms, p99 %.0f ms, %d errors, %d retries)\n",
		ok.Rate(), loadgen.Ms(ok.Percentile(0.5)), loadgen.Ms(ok.Percentile(0.99)), ok.Errors, ok.Retries)
	fmt.Printf("  readings batches per one-key write: %.2f (per round %s); the 40,000 readings/s target needs 80 batches/s\n",
		rd.Rate()/max(ok.Rate(), 1e-9), loadgen.Spread(ratios))
	b.ReportMetric(rd.Rate()*500, "readings/s")
	b.ReportMetric(ok.Rate(), "onekey-12KB-tx/s")
}

// retryable marks what may pass on a second try (an MVCC conflict, a peer
// a block behind) for loadgen's policy.
func retryable(err error) error {
	if err == nil {
		return nil
	}
	var commit *client.CommitError
	var endorse *client.EndorseError
	if errors.As(err, &commit) || errors.As(err, &endorse) {
		return loadgen.Retryable(err)
	}
	return err
}
