// Package metrics exposes the notifier's Prometheus metrics. It implements
// the observer interfaces of intake, sender and webhook, so those packages
// stay free of Prometheus. Labels carry templates, outcomes and event
// types, never phone numbers or names.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shiptrace/shiptrace/notifier"
)

// Metrics holds the notifier's collectors in its own registry.
type Metrics struct {
	reg           *prometheus.Registry
	notifications *prometheus.CounterVec
	attempts      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	events        *prometheus.CounterVec
	webhook       *prometheus.CounterVec
	optOuts       prometheus.Counter
	purged        prometheus.Counter
	paused        prometheus.Gauge
	connected     prometheus.Gauge
	checkpoint    prometheus.Gauge
	wa            *waMetrics // whatsapp.go
}

// New registers the collectors (plus Go and process collectors).
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_notifications_total",
			Help: "Notifications reaching each outcome (queued, sent, delivered, read, failed, skipped), by template.",
		}, []string{"template", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_send_attempts_total",
			Help: "Send attempts by result (sent, retry, uncertain, failed, paused, skipped).",
		}, []string{"template", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shiptrace_notifier_event_to_send_seconds",
			Help:    "Time from the event's transaction timestamp to the provider accepting the message.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"template"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_events_total",
			Help: "Chaincode events handled, by type and result (recorded, ignored, malformed).",
		}, []string{"type", "result"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_notifier_webhook_requests_total",
			Help: "Webhook requests by result (ok, verified, verify_refused, missing_signature, bad_signature, bad_payload, error).",
		}, []string{"result"}),
		optOuts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shiptrace_notifier_opt_outs_total", Help: "Opt-outs received by webhook.",
		}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shiptrace_notifier_purged_total", Help: "Notifications deleted because they outlived store.retention.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shiptrace_notifier_sending_paused", Help: "1 while sending is paused by a token or permission error.",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shiptrace_notifier_intake_connected", Help: "1 while the event stream is up.",
		}),
		checkpoint: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shiptrace_notifier_checkpoint_block", Help: "Block of the last fully recorded event.",
		}),
	}
	m.reg.MustRegister(m.notifications, m.attempts, m.latency, m.events, m.webhook, m.optOuts, m.purged, m.paused, m.connected, m.checkpoint,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.wa = newWAMetrics(m.reg)
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry exposes the registry, for tests that read values.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Event implements intake.Observer.
func (m *Metrics) Event(eventType, result string) { m.events.WithLabelValues(eventType, result).Inc() }

// Recorded implements intake.Observer.
func (m *Metrics) Recorded(ns []notifier.Notification, cp notifier.Checkpoint) {
	for _, n := range ns {
		m.notifications.WithLabelValues(n.Message.Template, string(n.Status)).Inc()
	}
	m.checkpoint.Set(float64(cp.Block))
}

// Outcome implements sender.Observer.
func (m *Metrics) Outcome(n notifier.Notification, outcome string, latency time.Duration) {
	m.attempts.WithLabelValues(n.Message.Template, outcome).Inc()
	switch outcome {
	case "sent":
		// Latency first: a scrape that sees the message counted as sent
		// also sees its latency.
		if latency > 0 {
			m.latency.WithLabelValues(n.Message.Template).Observe(latency.Seconds())
		}
		m.notifications.WithLabelValues(n.Message.Template, "sent").Inc()
	case "failed", "skipped":
		m.notifications.WithLabelValues(n.Message.Template, outcome).Inc()
	}
}

// Paused implements sender.Observer.
func (m *Metrics) Paused(p bool) {
	if p {
		m.paused.Set(1)
	} else {
		m.paused.Set(0)
	}
}

// Connected records whether the event stream is up.
func (m *Metrics) Connected(c bool) {
	if c {
		m.connected.Set(1)
	} else {
		m.connected.Set(0)
	}
}

// Request implements webhook.Observer.
func (m *Metrics) Request(result string) { m.webhook.WithLabelValues(result).Inc() }

// StatusChanged implements webhook.Observer.
func (m *Metrics) StatusChanged(before, after notifier.Notification) {
	m.notifications.WithLabelValues(after.Message.Template, string(after.Status)).Inc()
}

// OptOut implements webhook.Observer.
func (m *Metrics) OptOut() { m.optOuts.Inc() }

// Purged counts notifications deleted at the end of their retention.
func (m *Metrics) Purged(n int) { m.purged.Add(float64(n)) }
