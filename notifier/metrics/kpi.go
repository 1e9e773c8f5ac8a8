package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
)

// KPISource is where the KPI counts come from: the outbox, which counts
// them in the transactions that record each transition.
type KPISource interface {
	KPIs() ([]outbox.KPI, error)
}

var (
	kpiMessages = prometheus.NewDesc("shiptrace_notifier_kpi_messages_total",
		"Messages reaching each KPI stage (accepted, sent, delivered, read, clicked = tracking-link opens, replied, failed), by template, language and A/B variant; counted once per message in the store, so restarts and redelivered webhooks do not inflate them.",
		[]string{"template", "language", "variant", "stage"}, nil)
	kpiFailed = prometheus.NewDesc("shiptrace_notifier_kpi_failed_total",
		"Messages that failed for good, by template, language, variant and WhatsApp error code (known codes; other codes are \"other\").",
		[]string{"template", "language", "variant", "code"}, nil)
)

// kpiCollector reads the counts from the store at each scrape: they are
// the store's, not this process's, so they survive restarts.
type kpiCollector struct{ src KPISource }

func (c kpiCollector) Describe(ch chan<- *prometheus.Desc) { ch <- kpiMessages; ch <- kpiFailed }

func (c kpiCollector) Collect(ch chan<- prometheus.Metric) {
	ks, err := c.src.KPIs()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(kpiMessages, err)
		return
	}
	for _, k := range ks {
		for stage, n := range map[string]uint64{outbox.StageAccepted: k.Accepted, outbox.StageSent: k.Sent,
			outbox.StageDelivered: k.Delivered, outbox.StageRead: k.Read, outbox.StageClicked: k.Clicked,
			outbox.StageReplied: k.Replied, outbox.StageFailed: sum(k.Failed)} {
			ch <- prometheus.MustNewConstMetric(kpiMessages, prometheus.CounterValue, float64(n), k.Template, k.Language, k.Variant, stage)
		}
		for code, n := range BucketCodes(k.Failed) {
			ch <- prometheus.MustNewConstMetric(kpiFailed, prometheus.CounterValue, float64(n), k.Template, k.Language, k.Variant, code)
		}
	}
}

// CollectKPIs exposes the store's KPI counts on /metrics.
func (m *Metrics) CollectKPIs(src KPISource) { m.reg.MustRegister(kpiCollector{src}) }

// BucketCodes folds error codes into their label values (whatsapp.CodeBucket).
func BucketCodes(failed map[int]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for code, n := range failed {
		out[whatsapp.CodeBucket(code)] += n
	}
	return out
}

func sum(m map[int]uint64) uint64 {
	var t uint64
	for _, n := range m {
		t += n
	}
	return t
}
