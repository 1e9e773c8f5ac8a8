package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// waMetrics are the collectors of WhatsApp's edge cases: account pauses by
// Meta's code, the adaptive global rate, and events set aside for retry or
// as dead letters. No label holds personal data.
type waMetrics struct {
	accountPauses *prometheus.CounterVec
	sendRate      prometheus.Gauge
	parked        *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
}

func newWAMetrics(reg *prometheus.Registry) *waMetrics {
	w := &waMetrics{
		accountPauses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_account_pauses_total",
			Help: "Times sending paused on an account-level WhatsApp error, by Meta's error code (notifier/README.md, WhatsApp errors).",
		}, []string{"code"}),
		sendRate: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shiptrace_notifier_send_rate_limit",
			Help: "Current global send rate limit in messages per second; below sender.rate_per_second after a 130429.",
		}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_events_parked_total",
			Help: "Events set aside for a later retry without blocking the others, by reason (lookup_failed, contact_not_found_yet).",
		}, []string{"reason"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_dead_letters_total",
			Help: "Events given up after their retries (listed at /v1/dead-letters), by event type.",
		}, []string{"type"}),
	}
	reg.MustRegister(w.accountPauses, w.sendRate, w.parked, w.deadLetters)
	return w
}

// AccountPaused implements sender.AccountObserver.
func (m *Metrics) AccountPaused(code int) {
	m.wa.accountPauses.WithLabelValues(strconv.Itoa(code)).Inc()
}

// RateLimit implements sender.AccountObserver.
func (m *Metrics) RateLimit(perSecond float64) { m.wa.sendRate.Set(perSecond) }

// Parked implements intake.ParkObserver.
func (m *Metrics) Parked(reason string) { m.wa.parked.WithLabelValues(reason).Inc() }

// DeadLetter implements intake.ParkObserver.
func (m *Metrics) DeadLetter(eventType string) { m.wa.deadLetters.WithLabelValues(eventType).Inc() }
