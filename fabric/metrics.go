package fabric

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/shipment"
)

type metrics struct {
	calls       *prometheus.HistogramVec
	mvccRetries *prometheus.CounterVec
	// endorseRetries counts endorsements repeated because endorsers of
	// different organisations disagreed (fabric.ReasonDisagreement).
	endorseRetries *prometheus.CounterVec
	failovers      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shiptrace_gateway_fabric_call_duration_seconds",
			Help:    "Duration of Fabric calls by stage (evaluate, endorse, submit, commit_status), transaction and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage", "transaction", "outcome"}),
		mvccRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_gateway_fabric_mvcc_retries_total",
			Help: "Transactions endorsed again after an MVCC or phantom read conflict.",
		}, []string{"transaction"}),
		endorseRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_gateway_fabric_endorse_retries_total",
			Help: "Transactions endorsed again because endorsers of different organisations disagreed (one peer a block behind).",
		}, []string{"transaction"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_gateway_fabric_failovers_total",
			Help: "Calls moved to another peer because a peer was unreachable, by the peer given up on.",
		}, []string{"peer"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.mvccRetries, m.endorseRetries, m.failovers)
	}
	return m
}

// observe records one call: outcome "ok", "refused" (the contract said no)
// or "error" (the network failed).
func (m *metrics) observe(stage Stage, tx string, began time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case shipment.ErrorCode(err) != "":
		outcome = "refused"
	default:
		outcome = "error"
	}
	m.calls.WithLabelValues(string(stage), tx, outcome).Observe(time.Since(began).Seconds())
}
