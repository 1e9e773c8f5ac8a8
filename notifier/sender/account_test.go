package sender_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/sender"
)

// recordingObserver is a hand-written sender observer.
type recordingObserver struct {
	mu     sync.Mutex
	paused []bool
	codes  []int
	rates  []float64
}

func (o *recordingObserver) Outcome(notifier.Notification, string, time.Duration) {}
func (o *recordingObserver) Paused(p bool) {
	o.mu.Lock()
	o.paused = append(o.paused, p)
	o.mu.Unlock()
}
func (o *recordingObserver) AccountPaused(code int) {
	o.mu.Lock()
	o.codes = append(o.codes, code)
	o.mu.Unlock()
}
func (o *recordingObserver) RateLimit(r float64) {
	o.mu.Lock()
	o.rates = append(o.rates, r)
	o.mu.Unlock()
}

func (o *recordingObserver) snapshot() ([]bool, []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]bool(nil), o.paused...), append([]int(nil), o.codes...)
}

// safeBuffer is a log sink the sender's goroutines can share.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *safeBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestAnAccountPauseEndsWithOneProbeNotAWorkersWorthOfRefusals(t *testing.T) {
	st := openStore(t)
	var broken atomic.Bool
	broken.Store(true)
	var inflight, maxAfterFirst atomic.Int32
	var refusedOnce atomic.Bool
	p := &fakeProvider{fn: func(_ int, _ notifier.Message) (notifier.SendResult, error) {
		cur := inflight.Add(1)
		defer inflight.Add(-1)
		if refusedOnce.Load() && broken.Load() && cur > maxAfterFirst.Load() {
			maxAfterFirst.Store(cur)
		}
		time.Sleep(20 * time.Millisecond)
		if broken.Load() {
			refusedOnce.Store(true)
			return notifier.SendResult{}, &notifier.SendError{Class: notifier.Paused, Code: 131057, Message: "(#131057) Business Account is in maintenance mode",
				Hint: "the business account is in maintenance mode: wait for Meta, sending resumes by itself"}
		}
		return notifier.SendResult{MessageID: "wamid.ok"}, nil
	}}
	var ns []notifier.Notification
	for i := range 8 {
		ns = append(ns, buyerNote(string(rune('a'+i))+"tx", "+3460000000"+string(rune('1'+i))))
	}
	queue(t, st, ns...)
	obs := &recordingObserver{}
	logs := &safeBuffer{}
	cfg := fast()
	cfg.Workers = 4
	cfg.PauseRetry = 40 * time.Millisecond
	run(t, sender.New(cfg, st, p, slog.New(slog.NewJSONHandler(logs, nil)), obs))
	time.Sleep(400 * time.Millisecond)
	broken.Store(false)
	eventually(t, 5*time.Second, "every message sent", func() bool {
		for _, n := range ns {
			if status(t, st, n.ID).Status != notifier.StatusSent {
				return false
			}
		}
		return true
	})
	if got := maxAfterFirst.Load(); got > 1 {
		t.Errorf("while the account was paused %d requests were in flight at once; it should see one probe at a time", got)
	}
	paused, codes := obs.snapshot()
	if len(paused) != 2 || !paused[0] || paused[1] {
		t.Errorf("paused gauge went %v, want [true false]: resumed before a probe went through", paused)
	}
	if len(codes) != 1 || codes[0] != 131057 {
		t.Errorf("account pauses reported for codes %v, want [131057]", codes)
	}
	out := logs.String()
	if !strings.Contains(out, "SENDING PAUSED") || !strings.Contains(out, "maintenance mode: wait for Meta") || !strings.Contains(out, `"code":131057`) {
		t.Errorf("the pause log line does not tell the operator the code and what to do:\n%s", out)
	}
	if strings.Contains(out, "3460000000") {
		t.Error("a phone number reached the logs")
	}
	if p.count() > 4+int(400*time.Millisecond/cfg.PauseRetry)+len(ns)+2 {
		t.Errorf("%d requests for %d messages while the account was paused for 400 ms", p.count(), len(ns))
	}
}

func TestThroughputLimitLowersTheGlobalRateAndItRecovers(t *testing.T) {
	st := openStore(t)
	p := &fakeProvider{fn: func(n int, _ notifier.Message) (notifier.SendResult, error) {
		if n <= 2 {
			return notifier.SendResult{}, &notifier.SendError{Class: notifier.Throttled, Code: 130429, Message: "(#130429) Rate limit hit"}
		}
		return notifier.SendResult{MessageID: "wamid.ok"}, nil
	}}
	cfg := fast()
	cfg.RatePerSecond = 100
	cfg.RateRecovery = 50 * time.Millisecond
	obs := &recordingObserver{}
	s := sender.New(cfg, st, p, quiet, obs)
	n := buyerNote("tx1", "+34600000001")
	queue(t, st, n)
	run(t, s)
	eventually(t, 5*time.Second, "the global rate lowered", func() bool { return s.Rate() <= 50 })
	eventually(t, 5*time.Second, "the message sent after its retries", func() bool { return status(t, st, n.ID).Status == notifier.StatusSent })
	eventually(t, 5*time.Second, "the rate back at the configured limit", func() bool { return s.Rate() == 100 })
	if got := status(t, st, n.ID); got.Attempts != 3 {
		t.Errorf("%d attempts, want 3 (two refusals, one success)", got.Attempts)
	}
}
