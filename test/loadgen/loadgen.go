// Package loadgen drives the benchmarks' loads against the real network and
// summarises them. The benchmarks compare two ways of doing a thing (REST
// against direct, CreateShipment against a one-key write) on one network in
// one run, so this package gives them the same tools: closed-loop workers for
// a time slice, an open-loop paced load, one retry policy for every path, ABBA
// alternation (neither side always runs first on a growing ledger), and
// latency percentiles. Benchmarks print what it measures; nothing asserts.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one unit of work: one write with its retries (Policy.Do), from
// submit to commit. worker and seq number it, so ops can make unique IDs
// cheaply; it reports how many retries it made.
type Op func(ctx context.Context, worker, seq int) (retries int, err error)

// Try is one attempt of a write. It returns a *RetryableError (see
// Retryable) when the same write may be tried again.
type Try func(ctx context.Context) error

// RetryableError marks a failure the policy retries: nothing was done, or the
// outcome is unknown and the system says a retry is safe.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return "retryable: " + e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err so that Policy.Do tries again.
func Retryable(err error) error { return &RetryableError{Err: err} }

// Policy is the retry policy every compared path gets, so a difference in
// throughput never comes from one side giving up (or insisting) sooner.
type Policy struct {
	Attempts int           // tries in all, at least 1
	Pause    time.Duration // base pause, grown linearly per attempt with jitter
}

// DefaultPolicy is three tries, 50 ms apart and more.
var DefaultPolicy = Policy{Attempts: 3, Pause: 50 * time.Millisecond}

// Do runs try until it succeeds, fails for good, or the attempts are spent.
// It returns how many retries it made.
func (p Policy) Do(ctx context.Context, try Try) (retries int, err error) {
	attempts := max(1, p.Attempts)
	for a := 1; ; a++ {
		err = try(ctx)
		var re *RetryableError
		if err == nil || !errors.As(err, &re) || a >= attempts || ctx.Err() != nil {
			return a - 1, err
		}
		d := time.Duration(a)*p.Pause + rand.N(p.Pause+1)
		select {
		case <-ctx.Done():
			return a - 1, ctx.Err()
		case <-time.After(d):
		}
	}
}

// Result is what a load achieved.
type Result struct {
	Latencies []time.Duration // of the ops that succeeded, retries included
	Errors    int
	Retries   int
	Elapsed   time.Duration // from the first op's start to the last op's end
	FirstErr  error
}

// OK is the number of ops that succeeded.
func (r Result) OK() int { return len(r.Latencies) }

// Rate is successful ops per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK()) / r.Elapsed.Seconds()
}

// Percentile returns the q-quantile (0..1) of the latencies, 0 without any.
func (r Result) Percentile(q float64) time.Duration { return Percentile(r.Latencies, q) }

// Ms is a duration in milliseconds, for tables.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Add merges another slice of the same load into r (elapsed times add up:
// a rate over several slices is their ops over their summed time).
func (r *Result) Add(o Result) {
	r.Latencies = append(r.Latencies, o.Latencies...)
	r.Errors += o.Errors
	r.Retries += o.Retries
	r.Elapsed += o.Elapsed
	if r.FirstErr == nil {
		r.FirstErr = o.FirstErr
	}
}

// Percentile returns the q-quantile of ds (sorting a copy), 0 when empty.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return s[min(len(s)-1, max(0, i))]
}

// recorder collects the outcome of ops from many goroutines.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	errs     int
	retries  atomic.Int64
	firstErr error
}

func (rc *recorder) done(d time.Duration, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.errs++
		if rc.firstErr == nil {
			rc.firstErr = err
		}
		return
	}
	rc.lat = append(rc.lat, d)
}

func (rc *recorder) result(elapsed time.Duration) Result {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return Result{Latencies: rc.lat, Errors: rc.errs, Retries: int(rc.retries.Load()), Elapsed: elapsed, FirstErr: rc.firstErr}
}

// Closed runs conc workers that each start op after op until dur has
// passed, and waits for the ops in flight. An op's latency counts its
// retries.
func Closed(ctx context.Context, conc int, dur time.Duration, op Op) Result {
	var (
		rc recorder
		wg sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(dur)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; time.Now().Before(stop) && ctx.Err() == nil; seq++ {
				t0 := time.Now()
				retries, err := op(ctx, w, seq)
				rc.retries.Add(int64(retries))
				rc.done(time.Since(t0), err)
			}
		}()
	}
	wg.Wait()
	return rc.result(time.Since(start))
}

// Paced starts op at rate per second (open loop: the schedule does not wait
// for answers) until ctx ends, with at most inFlight running; a start that
// finds no free slot is skipped and counted in missed. It returns when every
// started op has finished.
func Paced(ctx context.Context, rate float64, inFlight int, op Op) (r Result, missed int) {
	var (
		rc    recorder
		wg    sync.WaitGroup
		slots = make(chan struct{}, inFlight)
	)
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	next := start
	for seq := 0; ; seq++ {
		next = next.Add(interval)
		select {
		case <-ctx.Done():
			wg.Wait()
			return rc.result(time.Since(start)), missed
		case <-time.After(time.Until(next)):
		}
		select {
		case slots <- struct{}{}:
		default:
			missed++
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			t0 := time.Now()
			// The ops outlive ctx's end by their own bounds: a write started
			// is waited for, so the count is of committed writes.
			retries, err := op(context.WithoutCancel(ctx), 0, seq)
			rc.retries.Add(int64(retries))
			rc.done(time.Since(t0), err)
		}()
	}
}

// ABBA calls run(side, round) for rounds rounds of two sides, in the order
// A B, B A, A B, ...: on a ledger that grows during the run, and on a machine
// whose background load drifts, neither side always gets the earlier slot.
func ABBA(rounds int, run func(side, round int)) {
	for round := range rounds {
		first, second := 0, 1
		if round%2 == 1 {
			first, second = 1, 0
		}
		run(first, round)
		run(second, round)
	}
}

// Spread formats the smallest and largest of per-round ratios, the noise
// the headline ratio carries.
func Spread(ratios []float64) string {
	if len(ratios) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", slices.Min(ratios), slices.Max(ratios))
}

// EnvInt reads a positive integer setting, def when unset or invalid.
func EnvInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// EnvSeconds reads a duration in whole seconds (or a Go duration such as
// "1500ms"), def when unset or invalid.
func EnvSeconds(key string, def time.Duration) time.Duration {
	v := os.Getenv(key)
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	return def
}

// EnvInts reads a comma-separated list of positive integers, def when unset.
func EnvInts(key string, def []int) ([]int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: want positive integers separated by commas", key, v)
		}
		out = append(out, n)
	}
	return out, nil
}
