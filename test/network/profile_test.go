package network_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// stack is one CPU sample's call stack (leaf first) and its weight.
type stack struct {
	weight float64
	frames []string
}

// category is a part of a process's work, recognised by a function on the
// sample's stack. A sample belongs to the category of the frame nearest its
// leaf that matches one, so the categories add up to the whole: a
// signature check inside validation counts as ECDSA, the rest of validation
// as validation; allocation and collection anywhere count as GC.
type category struct {
	name string
	re   *regexp.Regexp
}

var categories = []category{
	{"contract API + JSON schema", regexp.MustCompile(`fabric-contract-api-go|gojsonschema|go-openapi`)},
	{"JSON encode/decode", regexp.MustCompile(`^encoding/json\.`)},
	{"protobuf", regexp.MustCompile(`google\.golang\.org/protobuf|github\.com/golang/protobuf`)},
	{"ECDSA sign/verify", regexp.MustCompile(`crypto/ecdsa|nistec|p256|(?i)bccsp.*(verify|sign)`)},
	{"SHA-256", regexp.MustCompile(`sha256`)},
	{"TLS + gRPC transport", regexp.MustCompile(`crypto/tls|grpc/internal/transport|golang\.org/x/net/http2|aes/gcm`)},
	{"peer↔chaincode messages", regexp.MustCompile(`core/chaincode\.\(\*Handler\)|shim\.\(\*Handler\)`)},
	{"endorsement (simulation)", regexp.MustCompile(`core/endorser`)},
	{"validation + policies", regexp.MustCompile(`txvalidator|core/common/validation|common/policies|cauthdsl|statebased|handlers/validation`)},
	{"ledger commit (state, history, blocks)", regexp.MustCompile(`kvledger|statedb|historydb|blkstorage|goleveldb`)},
	{"gossip", regexp.MustCompile(`fabric/gossip/`)},
	{"Raft + block cutting", regexp.MustCompile(`etcdraft|go\.etcd\.io|blockcutter|orderer/common/(broadcast|msgprocessor)`)},
	{"deliver (block events)", regexp.MustCompile(`common/deliver|deliverevents`)},
	{"Go GC (allocation, marking)", regexp.MustCompile(`^runtime\.(gcBgMarkWorker|gcDrain|gcAssist|mallocgc|scanobject|scanObject)`)},
	{"scheduler, thread wake-ups, sleeps", regexp.MustCompile(`^runtime\.(findRunnable|schedule|park_m|sysmon|futex|usleep|notewakeup|notesleep|netpoll)|^(schedule|__schedule|finish_task_switch.*|futex_wait|do_futex|do_nanosleep)$`)},
}

// markers are read the other way: CPU with the marker anywhere on the
// stack, however deep, to tell what a subsystem costs with all it calls.
var markers = []category{
	{"… contractapi (dispatch, conversion, schema)", regexp.MustCompile(`fabric-contract-api-go`)},
	{"… of which JSON schema validation", regexp.MustCompile(`gojsonschema`)},
	{"… the contract's own code", regexp.MustCompile(`shiptrace/shiptrace/(chaincode/contract|shipment)\.`)},
	{"… peer: endorsement (simulation)", regexp.MustCompile(`core/endorser`)},
	{"… peer: validation", regexp.MustCompile(`txvalidator`)},
	{"… peer: ledger commit", regexp.MustCompile(`kvledger\.\(\*kvLedger\)\.(commit|CommitLegacy|commitToPvtAndBlockStore)`)},
}

// onStack returns the fraction of the samples' weight with each marker on
// the stack.
func onStack(samples []stack) map[string]float64 {
	out := map[string]float64{}
	total := 0.0
	for _, s := range samples {
		total += s.weight
		for _, m := range markers {
			for _, f := range s.frames {
				if m.re.MatchString(f) {
					out[m.name] += s.weight
					break
				}
			}
		}
	}
	if total > 0 {
		for k := range out {
			out[k] /= total
		}
	}
	return out
}

// other is the category of samples that match none.
const other = "other"

// shares returns the fraction of the samples' weight in each category.
func shares(samples []stack) map[string]float64 {
	out := map[string]float64{}
	total := 0.0
	for _, s := range samples {
		total += s.weight
		out[categoryOf(s)] += s.weight
	}
	if total > 0 {
		for k := range out {
			out[k] /= total
		}
	}
	return out
}

func categoryOf(s stack) string {
	for _, f := range s.frames {
		for _, c := range categories {
			if c.re.MatchString(f) {
				return c.name
			}
		}
	}
	return other
}

// pprofStacks reads a Go CPU profile through `go tool pprof -traces`.
func pprofStacks(path string) ([]stack, error) {
	out, err := exec.Command("go", "tool", "pprof", "-traces", path).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -traces %s: %w", path, err)
	}
	var (
		samples []stack
		cur     *stack
	)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "-----------+"):
			cur = nil
		case cur == nil && strings.HasPrefix(line, " "):
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			d, err := time.ParseDuration(f[0])
			if err != nil {
				continue // the header
			}
			samples = append(samples, stack{weight: d.Seconds(), frames: []string{f[1]}})
			cur = &samples[len(samples)-1]
		case cur != nil:
			if f := strings.Fields(line); len(f) > 0 {
				cur.frames = append(cur.frames, f[0])
			}
		}
	}
	return samples, sc.Err()
}

// perfStacks reads `perf script` of a perf.data recorded with -g: every
// sample has the same period, so each weighs 1.
func perfStacks(path string) ([]stack, error) {
	out, err := exec.Command("perf", "script", "-i", path).Output()
	if err != nil {
		return nil, fmt.Errorf("perf script -i %s: %w", path, err)
	}
	var samples []stack
	var cur *stack
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			cur = nil
		case !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " "):
			samples = append(samples, stack{weight: 1})
			cur = &samples[len(samples)-1]
		case cur != nil:
			// "\t    addr symbol+0xoff (dso)"
			f := strings.Fields(line)
			if len(f) >= 2 {
				sym, _, _ := strings.Cut(f[1], "+0x")
				cur.frames = append(cur.frames, sym)
			}
		}
	}
	return samples, nil
}

// breakdown prints, for one process group, the CPU per transaction in each
// category under either kind: the group's CPU per transaction measured from
// /proc times the category's share of its profile samples.
func breakdown(title string, msPerTx [2]float64, samples [2][]stack, names [2]string) {
	sh := [2]map[string]float64{shares(samples[0]), shares(samples[1])}
	fmt.Printf("%s: CPU ms per transaction by what burns it (%.2f / %.2f ms in all)\n", title, msPerTx[0], msPerTx[1])
	fmt.Printf("  %-46s %14s %14s %8s\n", "", names[0], names[1], "diff")
	on := [2]map[string]float64{onStack(samples[0]), onStack(samples[1])}
	row := func(name string, share [2]map[string]float64) {
		a, b := share[0][name]*msPerTx[0], share[1][name]*msPerTx[1]
		if a >= 0.05 || b >= 0.05 {
			fmt.Printf("  %-46s %14.2f %14.2f %+8.2f\n", name, a, b, a-b)
		}
	}
	for _, c := range append(categories, category{name: other}) {
		row(c.name, sh)
	}
	for _, m := range markers {
		row(m.name, on)
	}
}

// fileExists reports whether path is a regular file.
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
