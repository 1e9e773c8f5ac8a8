// Package fault_test kills parts of the system under load, each test on its
// own private copy of the whole system (testnet.Private: network, gateway,
// notifier and stand-in in a temporary data directory on its own port
// block), never on the shared one. Every wait polls an observable condition
// with a deadline; every load loop is bounded in count and time. What each
// test observed (commits, error statuses, retries, duplicates, losses) is
// logged with t.Logf so CI logs show it.
package fault_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// Base ports of the private copies (each needs about 100 ports).
const (
	portOrderer  = 28000
	portPeer     = 28200
	portNotifier = 28400
	portRestart  = 28600
)

type system struct {
	net *testnet.Network
	sys *walk.System
	c   *walk.Client
}

// private brings up a whole-system copy and waits until its gateway is ready.
func private(t *testing.T, basePort int) *system {
	t.Helper()
	if testing.Short() {
		t.Skip("brings up a private copy of the whole system")
	}
	start := time.Now()
	net := testnet.Private(t, basePort)
	// The private copy lives in t.TempDir, which is removed at the end:
	// keep its logs when the test failed (this cleanup runs first).
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dst := filepath.Join(os.TempDir(), "shiptrace-fault-logs", t.Name())
		_ = os.RemoveAll(dst)
		if err := os.CopyFS(dst, os.DirFS(filepath.Join(net.Home, "logs"))); err != nil {
			t.Logf("keeping the logs: %v", err)
			return
		}
		t.Logf("logs of the private system kept in %s", dst)
	})
	sys, err := walk.FromLocal(net.Local(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &system{net: net, sys: sys, c: sys.Client()}
	s.waitReady(t, time.Minute)
	t.Logf("private system on base port %d up and ready in %s", basePort, time.Since(start).Round(100*time.Millisecond))
	return s
}

func (s *system) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	err := walk.Eventually(ctx, within, 250*time.Millisecond, func() error {
		if !s.c.Ready(ctx) {
			return fmt.Errorf("gateway %s/readyz not 200", s.sys.GatewayURL)
		}
		return httpOK(ctx, s.sys.NotifierHealthURL+"/readyz")
	})
	if err != nil {
		t.Fatalf("system not ready: %v", err)
	}
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func postJSON(ctx context.Context, url string, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// statusOf returns every process's status by name.
func (s *system) statusOf(t *testing.T) map[string]localnet.ProcessStatus {
	t.Helper()
	out := map[string]localnet.ProcessStatus{}
	for _, p := range s.net.Status(t) {
		out[p.Name] = p
	}
	return out
}

// waitCaughtUp polls `status` until the node is up and its channel height
// has reached the highest height of the other nodes.
func (s *system) waitCaughtUp(t *testing.T, node string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	err := walk.Eventually(context.Background(), within, 500*time.Millisecond, func() error {
		st := s.statusOf(t)
		v := st[node]
		var top uint64
		for name, p := range st {
			if name != node && (p.Kind == "peer" || p.Kind == "orderer") && p.Height > top {
				top = p.Height
			}
		}
		last = fmt.Sprintf("%s up=%v height %d (%s), highest other node %d", node, v.Up, v.Height, v.Note, top)
		if !v.Up || v.Height < top || top == 0 {
			return fmt.Errorf("%s", last)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s did not catch up: %v", node, err)
	}
	t.Logf("%s caught up after %s: %s", node, time.Since(start).Round(100*time.Millisecond), last)
	return time.Since(start)
}

// write is one logical write of a load: one Idempotency-Key, possibly
// several attempts.
type write struct {
	id       string
	key      string
	attempts []walk.Attempt
	status   int // final
	replayed bool
	err      error
	start    time.Time
	end      time.Time
}

// loadResult summarises a load.
type loadResult struct {
	writes []write
}

// runLoad starts one write every interval (open loop: a write stuck in
// retries does not hold back the next one), with at most maxInFlight
// running, until stop is closed or max writes were started; then it waits
// for every started write to finish.
func runLoad(interval time.Duration, maxInFlight, max int, stop <-chan struct{}, one func(n int) write) *loadResult {
	var (
		mu  sync.Mutex
		out []write
		wg  sync.WaitGroup
	)
	slots := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(interval)
	defer tick.Stop()
loop:
	for n := 0; n < max; n++ {
		select {
		case <-stop:
			break loop
		case slots <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := one(n)
			<-slots
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
		}()
		select {
		case <-stop:
			break loop
		case <-tick.C:
		}
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return &loadResult{writes: out}
}

// committedSince counts writes answered with a success that ended after at.
func (l *loadResult) committedSince(at time.Time) int {
	n := 0
	for _, w := range l.writes {
		if w.status/100 == 2 && w.end.After(at) {
			n++
		}
	}
	return n
}

// summary counts attempts by status and writes by number of attempts.
func (l *loadResult) summary() string {
	byStatus := map[string]int{}
	retried, failed, replayed := 0, 0, 0
	for _, w := range l.writes {
		for _, a := range w.attempts {
			byStatus[a.String()]++
		}
		if len(w.attempts) > 1 {
			retried++
			if w.replayed {
				replayed++
			}
		}
		if w.status/100 != 2 {
			failed++
		}
	}
	var parts []string
	for k, v := range byStatus {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d writes, %d needed a retry (%d answered from the ledger: an earlier attempt had committed; %d run again: "+
		"no earlier attempt ever committed), %d did not succeed; attempts by answer {%s}",
		len(l.writes), retried, replayed, retried-replayed, failed, strings.Join(parts, ", "))
}

// compact prints attempts with repeats folded: "503 outcome-unknown, 409
// idempotency-key-in-use x51, 201".
func compact(as []walk.Attempt) string {
	var parts []string
	for i := 0; i < len(as); {
		j := i
		for j < len(as) && as[j].String() == as[i].String() {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%s x%d", as[i], j-i))
		} else {
			parts = append(parts, as[i].String())
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// createWrite creates one shipment with an Idempotency-Key, retrying with
// the same key while the answer is retryable.
func (s *system) createWrite(ctx context.Context, prefix string, policy walk.RetryPolicy) write {
	id := walk.NewID(prefix)
	w := write{id: id, key: walk.NewID("idem"), start: time.Now()}
	r, attempts, err := s.c.DoRetry(ctx, policy, "exporter", http.MethodPost, "/v1/shipments", walk.NewShipment(id, nil), w.key, nil)
	w.attempts, w.err, w.end = attempts, err, time.Now()
	if r != nil {
		w.status = r.Status
		w.replayed = r.Header.Get("Idempotent-Replayed") == "true"
		if err == nil && r.Status != http.StatusCreated {
			w.err = r.Err()
		}
	}
	return w
}

// checkRecordedOnce reads every acknowledged shipment back: it exists and
// its history holds exactly one change (the create), so no retry recorded
// it twice or lost it.
func (s *system) checkRecordedOnce(t *testing.T, l *loadResult) {
	t.Helper()
	ctx := context.Background()
	checked := 0
	for _, w := range l.writes {
		if w.status != http.StatusCreated {
			continue
		}
		h, err := s.c.History(ctx, "carrier", w.id)
		if err != nil {
			t.Errorf("%s (acknowledged after %d attempts): %v", w.id, len(w.attempts), err)
			continue
		}
		if len(h) != 1 {
			t.Errorf("%s: %d history entries after %v, want exactly 1", w.id, len(h), w.attempts)
		}
		checked++
	}
	t.Logf("read back %d acknowledged shipments: each recorded once", checked)
}
