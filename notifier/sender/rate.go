package sender

import (
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/shiptrace/shiptrace/notifier"
)

// Throughput adaptation. Meta answers 130429 when the business number
// sends faster than its throughput (80 messages/s by default, less for
// some numbers): retrying only the refused message while the rest go on at
// the same rate just produces more 130429s. So the global rate halves (at
// most once per second, however many in-flight messages are refused
// together), down to minRate, and climbs back by a tenth of the configured
// rate every RateRecovery without a 130429.
const minRate = 1

// Rate returns the current global send rate in messages per second.
func (s *Sender) Rate() float64 { return float64(s.limiter.Limit()) }

func (s *Sender) throttled(se *notifier.SendError) {
	now := s.now()
	s.mu.Lock()
	if now.Sub(s.throttledAt) < time.Second {
		s.throttledAt = now
		s.mu.Unlock()
		return
	}
	s.throttledAt = now
	s.mu.Unlock()
	lowered := max(s.Rate()/2, minRate)
	s.limiter.SetLimitAt(now, rate.Limit(lowered))
	s.reportRate(lowered)
	s.log.Warn("WhatsApp throughput limit hit (130429): global send rate lowered",
		slog.Float64("rate_per_second", lowered), slog.Float64("configured", s.cfg.RatePerSecond), slog.String("fbtrace_id", se.TraceID))
}

// recoverRate raises a lowered rate step by step while no 130429 comes.
func (s *Sender) recoverRate() {
	cur := s.Rate()
	if cur >= s.cfg.RatePerSecond {
		return
	}
	now := s.now()
	s.mu.Lock()
	if now.Sub(s.throttledAt) < s.cfg.RateRecovery {
		s.mu.Unlock()
		return
	}
	s.throttledAt = now // the next step after another RateRecovery
	s.mu.Unlock()
	raised := min(cur+s.cfg.RatePerSecond/10, s.cfg.RatePerSecond)
	s.limiter.SetLimitAt(now, rate.Limit(raised))
	s.reportRate(raised)
	if raised == s.cfg.RatePerSecond {
		s.log.Info("global send rate back to the configured limit", slog.Float64("rate_per_second", raised))
	}
}

func (s *Sender) reportRate(r float64) {
	if o, ok := s.obs.(AccountObserver); ok {
		o.RateLimit(r)
	}
}
