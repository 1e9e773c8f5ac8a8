package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	limited  *prometheus.CounterVec
	queued   prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_gateway_http_requests_total",
			Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shiptrace_gateway_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shiptrace_gateway_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shiptrace_gateway_http_limited_total",
		Help: "Requests refused by a limit: rate and in_flight (per API key, 429), queue_full and queue_timeout (the submission queue, 503).",
	}, []string{"reason"})
	m.queued = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shiptrace_gateway_submissions_queued",
		Help: "Writes waiting for a submission slot.",
	})
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.limited, m.queued)
	return m
}

// observe counts a request; status is the status code, or "client_closed"
// when the caller went away before the answer.
func (m *httpMetrics) observe(method, route, code string, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route, code).Observe(d.Seconds())
}

// methodLabel keeps the metrics' method label to the methods HTTP defines:
// a client may send any token as a method, and each would be a new series.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE":
		return m
	}
	return "other"
}
