// Command benchreport reads the output of the project's `go test -bench`
// runs (scripts/bench) and prints one table: each figure next to the target
// its issue set. Figures come from the metrics the benchmarks report
// (b.ReportMetric); a figure missing from the output is shown as "-".
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// row is one line of the report: a metric of a benchmark, and its target.
type row struct {
	what, bench, unit, target string
}

var rows = []row{
	{"network up to chaincode committed, cryptogen (s)", "BenchmarkNetworkUp/crypto=cryptogen", "s/up", "<= 10"},
	{"network up to chaincode committed, Fabric CAs (s)", "BenchmarkNetworkUp/crypto=ca", "s/up", "cryptogen + 10"},
	{"network up until every org's endorsers are discoverable, cryptogen (s)", "BenchmarkNetworkUp/crypto=cryptogen", "s/ready", "-"},
	{"network up until every org's endorsers are discoverable, Fabric CAs (s)", "BenchmarkNetworkUp/crypto=ca", "s/ready", "-"},
	{"peak RSS orderers+peers+chaincode under load (MiB)", "BenchmarkNetworkUp/crypto=ca", "MiB-peak-RSS", "<= 600"},
	{"CreateShipment direct, concurrency 64 (tx/s)", "BenchmarkNetworkUp/crypto=ca", "tx/s", "-"},
	{"REST committed writes, concurrency 1 (tx/s)", "BenchmarkWritesRESTvsDirect", "rest-tx/s-c1", "-"},
	{"REST p50 / p99 at concurrency 1 (ms)", "BenchmarkWritesRESTvsDirect", "rest-p50-ms-c1|rest-p99-ms-c1", "-"},
	{"REST committed writes, concurrency 64 (tx/s)", "BenchmarkWritesRESTvsDirect", "rest-tx/s-c64", "-"},
	{"REST p50 / p99 at concurrency 64 (ms)", "BenchmarkWritesRESTvsDirect", "rest-p50-ms-c64|rest-p99-ms-c64", "p99 < 500"},
	{"REST/direct ratio at concurrency 64", "BenchmarkWritesRESTvsDirect", "ratio-c64", ">= 0.9"},
	{"REST committed writes, concurrency 256 (tx/s)", "BenchmarkWritesRESTvsDirect", "rest-tx/s-c256", ">= 230"},
	{"REST/direct ratio at concurrency 256", "BenchmarkWritesRESTvsDirect", "ratio-c256", ">= 0.9"},
	{"running system: REST committed writes, concurrency 64 (tx/s)", "BenchmarkWritesRESTvsDirectSystem", "rest-tx/s-c64", "-"},
	{"running system: REST/direct ratio at concurrency 64 / 256", "BenchmarkWritesRESTvsDirectSystem", "ratio-c64|ratio-c256", ">= 0.9"},
	{"CreateShipment CPU per committed tx, all processes (ms)", "BenchmarkCreateShipmentCPU", "create-cpu-ms/tx", "-"},
	{"one-key write CPU per committed tx, all processes (ms)", "BenchmarkCreateShipmentCPU", "onekey-cpu-ms/tx", "-"},
	{"CreateShipment / one-key write CPU", "BenchmarkCreateShipmentCPU", "cpu-ratio", "<= 1.3"},
	{"CreateShipment committed, 48 in flight (tx/s)", "BenchmarkCreateShipment", "tx/s", "-"},
	{"readings ingested, batches of 100 (readings/s)", "BenchmarkRecordReadings/batch=100", "readings/s", ">= 10000"},
	{"readings ingested, batches of 500 (readings/s)", "BenchmarkRecordReadings/batch=500", "readings/s", ">= 10000"},
	{"Readings page p99, 10,000 readings (ms)", "BenchmarkReadings", "p99-ms-page100", "< 50"},
	{"ListShipments page of 50 p99, 10,000 shipments: all / by buyer (ms)", "BenchmarkListShipments", "p99-ms-all/50|p99-ms-buyer/50", "< 50"},
	{"event-to-WhatsApp, block commit → stand-in, 100 writes/s background, p50 / p90 / p99 / max (ms)", "BenchmarkEventToWhatsApp", "p50-ms|p90-ms|p99-ms|max-ms", "p99 < 100"},
	{"background load committed during event-to-WhatsApp (writes/s)", "BenchmarkEventToWhatsApp", "load-tx/s", "100"},
	{"notifier event-to-send, in process, p50 / p99 (ms)", "BenchmarkEventToSendLatency", "p50-ms|p99-ms", "p99 < 250"},
	{"notifier sustained sends, limit raised (sends/s)", "BenchmarkSustainedSends", "sends/s", ">= 1000"},
	{"Fabric CA register + enrol (enrolments/s)", "BenchmarkEnroll", "enrolments/s", "-"},
}

func main() {
	metrics, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEASURED\tTARGET")
	for _, r := range rows {
		var vals []string
		for _, unit := range strings.Split(r.unit, "|") {
			v, ok := metrics[r.bench][unit]
			if !ok {
				vals = append(vals, "-")
				continue
			}
			vals = append(vals, strconv.FormatFloat(v, 'f', precision(v), 64))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.what, strings.Join(vals, " / "), r.target)
	}
	tw.Flush()
}

// parse collects "value unit" pairs from benchmark result lines, by
// benchmark name without the -GOMAXPROCS suffix. A benchmark run twice keeps
// its last figures.
func parse(r io.Reader) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	pending := "" // a benchmark whose name was printed before its own output
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		name := ""
		switch {
		case strings.HasPrefix(f[0], "Benchmark") && len(f) >= 4 && isInt(f[1]):
			name, f = f[0], f[2:]
		case strings.HasPrefix(f[0], "Benchmark"):
			// "BenchmarkX-2 <what the benchmark printed>": the figures
			// follow on a line of their own.
			pending = f[0]
			continue
		case pending != "" && len(f) >= 3 && isInt(f[0]):
			name, f = pending, f[1:]
		default:
			continue
		}
		pending = ""
		if i := strings.LastIndexByte(name, '-'); i > 0 && isInt(name[i+1:]) {
			name = name[:i]
		}
		m := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		out[name] = m
	}
	return out, sc.Err()
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func precision(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	default:
		return 2
	}
}
