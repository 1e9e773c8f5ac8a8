// Package sender drains the outbox: a dispatcher claims due notifications
// (marking them "sending" on disk before any HTTP call), workers send them
// through the provider under a global rate limit and per-recipient pacing,
// and each outcome is recorded — sent, retried with exponential backoff and
// jitter, failed for good, or parked as uncertain until a status webhook
// says whether an ambiguous attempt went through.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// Config tunes the sender. Zero values take the defaults noted.
type Config struct {
	Workers              int           // concurrent sends (16)
	RatePerSecond        float64       // global limit (80, Meta's default per number)
	PerRecipientInterval time.Duration // minimum gap between two messages to one number (0: none)
	BackoffBase          time.Duration // first retry delay (1s)
	BackoffMax           time.Duration // longest retry delay (5m)
	MaxAttempts          int           // attempts before giving up on transient errors (10)
	ReconcileWindow      time.Duration // wait for a webhook before resending an uncertain attempt (1m)
	PauseRetry           time.Duration // how long sending stays paused after a token/permission error (30s)
	SendTimeout          time.Duration // per-attempt timeout (10s)
	IdlePoll             time.Duration // longest sleep when nothing is due (1s)
	RateRecovery         time.Duration // after a 130429, how often the lowered rate steps back up (10s)
	// Consent re-checks each message just before it is sent (nil: only
	// opt-outs are checked).
	Consent ConsentChecker
	// Hold, if set, keeps a due message back until the time it returns
	// (the recipient's quiet hours, policy.Policy.Hold).
	Hold func(n notifier.Notification, now time.Time) (bool, time.Time)
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 80
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.ReconcileWindow <= 0 {
		c.ReconcileWindow = time.Minute
	}
	if c.PauseRetry <= 0 {
		c.PauseRetry = 30 * time.Second
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 10 * time.Second
	}
	if c.IdlePoll <= 0 {
		c.IdlePoll = time.Second
	}
	if c.RateRecovery <= 0 {
		c.RateRecovery = 10 * time.Second
	}
}

// Store is the part of the outbox the sender uses.
type Store interface {
	Claim(limit int, gate outbox.Gate) ([]notifier.Notification, error)
	NextDue() (time.Time, bool, error)
	Finish(r outbox.Result) (notifier.Notification, error)
	OptedOut(phone string) (bool, error)
	SkipClaimed(id, reason string) error
	LinkWAID(number, waID string) error
}

// Observer is told about outcomes, for metrics.
type Observer interface {
	// Outcome reports an attempt's result: sent, retry, uncertain,
	// failed, skipped or paused. latency is event time to send, for sent.
	Outcome(n notifier.Notification, outcome string, latency time.Duration)
	// Paused reports whether sending is paused.
	Paused(paused bool)
}

// AccountObserver is told, if the Observer implements it, which
// account-level error paused sending and what the global rate now is.
type AccountObserver interface {
	AccountPaused(code int)
	RateLimit(perSecond float64)
}

type nopObserver struct{}

func (nopObserver) Outcome(notifier.Notification, string, time.Duration) {}
func (nopObserver) Paused(bool)                                          {}

// Sender drains the outbox.
type Sender struct {
	cfg      Config
	store    Store
	provider notifier.Provider
	log      *slog.Logger
	obs      Observer
	limiter  *rate.Limiter
	wake     chan struct{}
	now      func() time.Time

	mu          sync.Mutex
	pausedUntil time.Time
	pauseReason string
	pausedBy    *notifier.SendError  // set from a pause until a probe succeeds
	throttledAt time.Time            // last time 130429 lowered the rate
	nextFor     map[string]time.Time // phone ref → earliest next send
}

// New returns a sender. obs may be nil.
func New(cfg Config, store Store, provider notifier.Provider, log *slog.Logger, obs Observer) *Sender {
	cfg.defaults()
	if obs == nil {
		obs = nopObserver{}
	}
	s := &Sender{
		cfg: cfg, store: store, provider: provider, log: log, obs: obs,
		// Burst 1: a token bucket admits at most rate+burst sends in any
		// second, so a burst of one keeps the rate at the limit.
		limiter: rate.NewLimiter(rate.Limit(cfg.RatePerSecond), 1),
		wake:    make(chan struct{}, 1),
		now:     time.Now,
		nextFor: map[string]time.Time{},
	}
	s.reportRate(cfg.RatePerSecond)
	return s
}

// Wake tells the dispatcher new notifications were queued.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Paused returns why sending is paused, or "" if it is not.
// Sending stays paused (for readiness) until a probe succeeds.
func (s *Sender) Paused() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pausedBy != nil {
		return s.pauseReason
	}
	return ""
}

// waiting reports whether a pause is still running its PauseRetry.
func (s *Sender) waiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().Before(s.pausedUntil)
}

// Run sends until ctx is done. Attempts in flight finish; claimed
// notifications not yet attempted are put back.
func (s *Sender) Run(ctx context.Context) error {
	// Unbuffered, and claims sized to idle workers and the next 20 ms of
	// rate: a notification is marked "sending" only just before its HTTP
	// call, so a crash leaves few attempts of unknown outcome behind.
	work := make(chan notifier.Notification)
	var idle atomic.Int64
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				idle.Add(1)
				n, ok := <-work
				idle.Add(-1)
				if !ok {
					return
				}
				s.attempt(ctx, n)
			}
		}()
	}
	err := s.dispatch(ctx, work, &idle)
	close(work)
	wg.Wait()
	return err
}

func (s *Sender) dispatch(ctx context.Context, work chan<- notifier.Notification, idle *atomic.Int64) error {
	for ctx.Err() == nil {
		if s.waiting() {
			s.sleep(ctx, time.Until(s.pauseEnd()))
			continue
		}
		if s.probing() {
			// After a pause one message goes alone: if the account is
			// still broken only it is refused, not a worker's worth.
			s.probe(ctx)
			continue
		}
		s.recoverRate()
		rps := float64(s.limiter.Limit())
		perClaim := max(1, int(rps/50))
		// Claimed work waiting for the limiter is work marked "sending"
		// that has not been sent: claim only when that backlog is gone,
		// and then no more than ~20 ms worth of rate.
		if backlog := -s.limiter.Tokens(); backlog > 0 {
			s.sleep(ctx, time.Duration(backlog/rps*float64(time.Second)/2))
			continue
		}
		free := min(int(idle.Load()), perClaim)
		if free <= 0 {
			// Workers are busy; the limiter is the usual reason.
			s.sleep(ctx, time.Duration(float64(time.Second)/rps))
			continue
		}
		batch, err := s.store.Claim(free, s.gate())
		if err != nil {
			s.log.Error("claim notifications", slog.Any("error", err))
			s.sleep(ctx, s.cfg.IdlePoll)
			continue
		}
		for _, n := range batch {
			work <- n
		}
		if len(batch) > 0 {
			continue
		}
		s.idle(ctx)
	}
	return nil
}

// idle sleeps until the next notification is due, at most IdlePoll.
func (s *Sender) idle(ctx context.Context) {
	wait := s.cfg.IdlePoll
	if due, ok, err := s.store.NextDue(); err == nil && ok {
		wait = min(max(time.Until(due), time.Millisecond), s.cfg.IdlePoll)
	}
	s.sleep(ctx, wait)
}

// sleep waits for d, a wake-up or ctx.
func (s *Sender) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.wake:
	case <-ctx.Done():
	}
}

func (s *Sender) pauseEnd() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pausedUntil
}

// gate paces messages to one number: a claim reserves the recipient's next
// slot, so two due messages to one buyer go PerRecipientInterval apart.
func (s *Sender) gate() outbox.Gate {
	pace := s.paceGate()
	hold := s.cfg.Hold
	if hold == nil {
		return pace
	}
	now := s.now()
	return func(n notifier.Notification) (bool, time.Time) {
		if held, until := hold(n, now); held {
			return false, until
		}
		if pace == nil {
			return true, time.Time{}
		}
		return pace(n)
	}
}

// paceGate is the per-recipient pacing part of gate.
func (s *Sender) paceGate() outbox.Gate {
	if s.cfg.PerRecipientInterval <= 0 {
		return nil
	}
	now := s.now()
	s.mu.Lock()
	if len(s.nextFor) > 10000 {
		for k, t := range s.nextFor {
			if t.Before(now) {
				delete(s.nextFor, k)
			}
		}
	}
	s.mu.Unlock()
	return func(n notifier.Notification) (bool, time.Time) {
		ref := n.PhoneRef
		s.mu.Lock()
		defer s.mu.Unlock()
		if next := s.nextFor[ref]; now.Before(next) {
			return false, next
		}
		s.nextFor[ref] = now.Add(s.cfg.PerRecipientInterval)
		return true, time.Time{}
	}
}

// putBack returns a claimed notification to the queue without counting the
// attempt (shutdown or pause before the request left).
func (s *Sender) putBack(n notifier.Notification, reason string) {
	if _, err := s.store.Finish(outbox.Result{ID: n.ID, Status: notifier.StatusQueued, At: s.now(), NextAt: s.now(), Reason: reason, Refund: true}); err != nil {
		s.log.Error("put notification back", slog.String("notification", n.ID), slog.Any("error", err))
	}
}

// attempt sends one claimed notification and records the outcome, which it
// returns: sent, retry, uncertain, failed, skipped, paused, or "" when the
// message was put back or held without an attempt.
func (s *Sender) attempt(ctx context.Context, n notifier.Notification) string {
	if ctx.Err() != nil {
		s.putBack(n, "")
		return ""
	}
	if out, err := s.store.OptedOut(n.Phone); err == nil && out {
		s.skip(n, "opted_out")
		return "skipped"
	}
	if s.cfg.Consent != nil {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		reason, err := s.cfg.Consent.Check(cctx, n)
		cancel()
		if err != nil {
			// Not knowing is no consent to send: hold the message, without
			// counting an attempt, until the contact source answers.
			next := s.now().Add(s.backoff(n.Attempts))
			s.log.Warn("consent could not be checked; message held", slog.String("notification", n.ID), slog.Any("error", err), slog.Time("next", next))
			if _, err := s.store.Finish(outbox.Result{ID: n.ID, Status: notifier.StatusQueued, At: s.now(), NextAt: next, Reason: "consent check failed", Refund: true}); err != nil {
				s.log.Error("hold notification", slog.String("notification", n.ID), slog.Any("error", err))
			}
			return ""
		}
		if reason != "" {
			s.skip(n, reason)
			return "skipped"
		}
	}
	if s.waiting() {
		s.putBack(n, "")
		return ""
	}
	if err := s.limiter.Wait(ctx); err != nil {
		s.putBack(n, "")
		return ""
	}
	// The request is not cancelled by shutdown: an attempt that started
	// finishes and is recorded, so a graceful stop leaves nothing uncertain.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.SendTimeout)
	res, err := s.provider.Send(sctx, n.Message)
	cancel()
	now := s.now()
	log := s.log.With(slog.String("notification", n.ID), slog.String("shipment", n.ShipmentID),
		slog.String("template", n.Message.Template), slog.Int("attempt", n.Attempts))
	r := outbox.Result{ID: n.ID, At: now}
	outcome := ""
	if err == nil {
		r.Status, r.WAMID = notifier.StatusSent, res.MessageID
		outcome = "sent"
		// A STOP comes from the wa_id, which can differ from the number.
		if lerr := s.store.LinkWAID(n.Phone, res.WaID); lerr != nil {
			log.Error("record the recipient's wa_id", slog.Any("error", lerr))
		}
	} else {
		se := &notifier.SendError{Class: notifier.Transient, Message: err.Error()}
		_ = errors.As(err, &se)
		r.Code = se.Code
		r.Reason = se.Message
		if se.Details != "" {
			r.Reason += ": " + se.Details
		}
		if se.Class == notifier.Throttled {
			s.throttled(se)
		}
		switch se.Class {
		case notifier.Permanent:
			r.Status, outcome = notifier.StatusFailed, "failed"
			log.Warn("message failed permanently", slog.Int("code", se.Code), slog.String("reason", r.Reason), slog.String("fbtrace_id", se.TraceID))
		case notifier.Paused:
			r.Status, r.NextAt, r.Refund, outcome = notifier.StatusQueued, now, true, "paused"
			s.pause(se)
		case notifier.Uncertain:
			if n.Attempts >= s.cfg.MaxAttempts {
				r.Status, outcome = notifier.StatusFailed, "failed"
				r.Reason = fmt.Sprintf("gave up after %d attempts: %s", n.Attempts, r.Reason)
			} else {
				r.Status, r.NextAt, outcome = notifier.StatusUncertain, now.Add(s.cfg.ReconcileWindow), "uncertain"
				log.Warn("attempt outcome unknown; waiting for a status webhook before resending", slog.Any("error", err))
			}
		default:
			if n.Attempts >= s.cfg.MaxAttempts {
				r.Status, outcome = notifier.StatusFailed, "failed"
				r.Reason = fmt.Sprintf("gave up after %d attempts: %s", n.Attempts, r.Reason)
				log.Warn("message failed: retries exhausted", slog.Int("code", se.Code), slog.String("reason", r.Reason))
			} else {
				r.Status, r.NextAt, outcome = notifier.StatusQueued, now.Add(s.backoff(n.Attempts)), "retry"
				log.Info("message will be retried", slog.Int("code", se.Code), slog.Time("next", r.NextAt))
			}
		}
	}
	after, ferr := s.store.Finish(r)
	if ferr != nil {
		// The notification stays "sending" on disk; a restart turns it
		// into "uncertain" and reconciles it.
		log.Error("record attempt outcome", slog.String("outcome", outcome), slog.Any("error", ferr))
		return outcome
	}
	counted := outcome
	if outcome == "sent" && after.Status != notifier.StatusSent {
		counted = "" // a webhook got there first and was counted already
	}
	if counted != "" {
		s.obs.Outcome(after, counted, now.Sub(n.EventTime))
	}
	return outcome
}

// skip marks a claimed notification skipped for reason, before any attempt.
func (s *Sender) skip(n notifier.Notification, reason string) {
	if err := s.store.SkipClaimed(n.ID, reason); err != nil {
		s.log.Error("skip notification", slog.String("notification", n.ID), slog.String("reason", reason), slog.Any("error", err))
		return
	}
	s.obs.Outcome(n, "skipped", 0)
}

// backoff is exponential with equal jitter: half the delay is fixed so a
// retry never comes too early, the other half random so retries spread.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffBase
	for i := 1; i < attempt && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// pause stops all sending for PauseRetry after an account-level error;
// when it ends, a single probe message decides whether to resume.
func (s *Sender) pause(se *notifier.SendError) {
	reason := fmt.Sprintf("WhatsApp refused the account (code %d): %s", se.Code, se.Message)
	if se.Code == 0 {
		reason = fmt.Sprintf("WhatsApp refused the account (http %d): %s", se.HTTPStatus, se.Message)
	}
	if se.Hint != "" {
		reason += "; " + se.Hint
	}
	s.mu.Lock()
	already := s.pausedBy != nil
	s.pausedUntil = s.now().Add(s.cfg.PauseRetry)
	s.pauseReason = reason
	s.pausedBy = se
	s.mu.Unlock()
	if !already {
		s.obs.Paused(true)
		if o, ok := s.obs.(AccountObserver); ok {
			o.AccountPaused(se.Code)
		}
		s.log.Error("SENDING PAUSED: no messages go out until this is fixed; one probe message every pause_retry checks",
			slog.Int("code", se.Code), slog.String("action", se.Hint), slog.String("reason", reason),
			slog.Duration("retry_in", s.cfg.PauseRetry), slog.String("fbtrace_id", se.TraceID))
	}
}

// probing reports whether a pause ended and no probe has succeeded yet.
func (s *Sender) probing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pausedBy != nil
}

// probe sends one due message itself and resumes sending if the account
// took it (or refused only that message); another account-level error
// pauses again, and an inconclusive answer (a retry, an uncertain attempt)
// leaves the next due message to probe.
func (s *Sender) probe(ctx context.Context) {
	batch, err := s.store.Claim(1, s.gate())
	if err != nil {
		s.log.Error("claim a probe message", slog.Any("error", err))
		s.sleep(ctx, s.cfg.IdlePoll)
		return
	}
	if len(batch) == 0 {
		s.idle(ctx)
		return
	}
	switch outcome := s.attempt(ctx, batch[0]); outcome {
	case "sent", "failed", "skipped":
		s.mu.Lock()
		s.pausedBy = nil
		s.mu.Unlock()
		s.obs.Paused(false)
		s.log.Warn("SENDING RESUMED: a probe message went through", slog.String("probe_outcome", outcome))
	}
}
