package network_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// refChaincode is the one-key-write reference (test/refcc), deployed beside
// shiptrace on the benchmark's network.
const refChaincode = "refcc"

// BenchmarkCreateShipmentCPU reports the CPU time per committed transaction,
// summed over every process of the network (3 orderers, 3 peers, the
// chaincode servers) and this process's fabric-gateway client (standing in
// for the REST gateway, whose own overhead BenchmarkWritesRESTvsDirect
// measures), for CreateShipment against a one-key write (Put of the bare-shim
// reference chaincode test/refcc, same endorsement policy), on one private
// network in one run. Both loads run open-loop at the same rate
// (SHIPTRACE_BENCH_RATE tx/s, default 40), so blocks hold as many
// transactions either way, in ABBA slices (SHIPTRACE_BENCH_ROUNDS, default
// 4, over SHIPTRACE_BENCH_SECONDS per kind, default 60). Each process's CPU
// time is read from /proc/<pid>/stat before and after each slice; the
// network's idle CPU (gossip, Raft heartbeats), measured first, is
// subtracted. Target: CreateShipment at most 1.3 times the one-key write.
//
// It then prints each kind's transaction anatomy (proposal and transaction
// sizes, endorsements, keys read and written) and, unless
// SHIPTRACE_BENCH_PROFILE_SECONDS is 0 (default 25), takes CPU profiles under
// each load: pprof from the peers and orderers (started with their profiling
// endpoint for this network only) and the reference chaincode's servers, and
// `perf record` of both chaincodes' servers when perf is installed (the
// contract's server has no pprof endpoint, and one tool for both keeps them
// comparable). It prints, per process group, the CPU per transaction by
// what burns it. Profiles and their top lists go to
// SHIPTRACE_BENCH_PROFILE_DIR (default .cache/profiles/<time>).
//
// The network is private: SHIPTRACE_BENCH_BASE_PORT (default 27100), in a
// temporary directory, down at the end.
//
//	go test ./test/network -run '^$' -bench CreateShipmentCPU -benchtime 1x
func BenchmarkCreateShipmentCPU(b *testing.B) {
	n := upWithReference(b, 27100, true)
	ctx := context.Background()
	ln, prof, port := n.ln, n.prof, n.ln.Layout.BasePort
	gw, conn, err := prof.Connect("ExporterMSP", "User1")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	defer gw.Close()
	network := gw.GetNetwork(prof.Channel)
	prefix := testnet.UniqueID("CPU")
	kinds := [2]txKind{
		{name: "CreateShipment", contract: network.GetContract(prof.Chaincode), fn: "CreateShipment", args: func(id string) []string {
			arg, _ := json.Marshal(newShipment(id)) // a struct of plain fields always marshals
			return []string{string(arg)}
		}},
		{name: "one-key write", contract: network.GetContract(refChaincode), fn: "Put", args: func(id string) []string {
			return []string{id, "reference value, 32 bytes long.."}
		}},
	}
	for i := range kinds {
		kinds[i].id = func(seq int) string { return fmt.Sprintf("%s-%d-%d", prefix, i, seq) }
	}

	fmt.Printf("\nCreateShipment against a one-key write (%s), private network on port %d\n", refChaincode, port)
	fmt.Println("transaction anatomy (one transaction each, as endorsed):")
	for _, k := range kinds {
		a, err := k.anatomy(ctx, k.id(-1))
		if err != nil {
			b.Fatalf("%s: %v", k.name, err)
		}
		fmt.Printf("  %-15s %s\n", k.name, a)
	}

	procs := processes(b, ln)
	rate := float64(loadgen.EnvInt("SHIPTRACE_BENCH_RATE", 40))
	perKind := loadgen.EnvSeconds("SHIPTRACE_BENCH_SECONDS", 60*time.Second)
	rounds := loadgen.EnvInt("SHIPTRACE_BENCH_ROUNDS", 4)
	slice := perKind / time.Duration(rounds)
	// Warm both chaincodes' connections, then measure what the network
	// burns doing nothing.
	for i, k := range kinds {
		k.load(ctx, rate, 2*time.Second, 1_000_000+i*10_000)
	}
	time.Sleep(time.Second)
	idleFor := 5 * time.Second
	idle := procs.measure(func() { time.Sleep(idleFor) })

	var (
		totals [2]cpuSample
		ratios []float64
		last   [2]float64
	)
	loadgen.ABBA(rounds, func(side, round int) {
		var r loadgen.Result
		s := procs.measure(func() {
			r = kinds[side].load(ctx, rate, slice, round*100_000)
			time.Sleep(time.Second) // the other peers commit the last block
		})
		s = s.minusIdle(idle, idleFor)
		s.committed, s.failed = r.OK(), r.Errors
		totals[side].add(s)
		last[side] = s.perTx(s.total())
		if (side == 1) == (round%2 == 0) && last[1] > 0 { // the round's second slice
			ratios = append(ratios, last[0]/last[1])
		}
	})
	groups := []string{"orderer", "peer", "chaincode", "chaincode-" + refChaincode, "client"}
	fmt.Printf("CPU per committed transaction, ms (all processes minus their idle rate; %s ABBA slices of %s at %.0f tx/s):\n", strconv.Itoa(rounds*2), slice, rate)
	fmt.Printf("  %-15s %8s %6s", "", "tx", "failed")
	for _, g := range groups {
		fmt.Printf(" %10s", g)
	}
	fmt.Printf(" %10s\n", "total")
	for i, k := range kinds {
		t := totals[i]
		fmt.Printf("  %-15s %8d %6d", k.name, t.committed, t.failed)
		for _, g := range groups {
			fmt.Printf(" %10.2f", t.perTx(t.cpu[g]))
		}
		fmt.Printf(" %10.2f\n", t.perTx(t.total()))
	}
	ratio := 0.0
	if d := totals[1].perTx(totals[1].total()); d > 0 {
		ratio = totals[0].perTx(totals[0].total()) / d
	}
	fmt.Printf("CreateShipment / one-key write: %.2f (per round %s; target <= 1.3); network idle %.0f ms CPU per s\n",
		ratio, loadgen.Spread(ratios), float64(idle.total().Milliseconds())/idleFor.Seconds())
	b.ReportMetric(totals[0].perTx(totals[0].total()), "create-cpu-ms/tx")
	b.ReportMetric(totals[1].perTx(totals[1].total()), "onekey-cpu-ms/tx")
	b.ReportMetric(ratio, "cpu-ratio")

	seconds := time.Duration(loadgen.EnvInt("SHIPTRACE_BENCH_PROFILE_SECONDS", 25)) * time.Second
	if os.Getenv("SHIPTRACE_BENCH_PROFILE_SECONDS") == "0" {
		return
	}
	dir := os.Getenv("SHIPTRACE_BENCH_PROFILE_DIR")
	if dir == "" {
		dir = filepath.Join(ln.Repo, ".cache", "profiles", time.Now().UTC().Format("20060102T150405"))
	}
	var during [2]cpuSample
	for i, k := range kinds {
		var err error
		var r loadgen.Result
		during[i] = procs.measure(func() {
			r, err = profileUnderLoad(ctx, k, rate, seconds, filepath.Join(dir, k.slug()), procs, 2_000_000+i*100_000)
		})
		during[i].committed, during[i].failed = r.OK(), r.Errors
		if err != nil {
			b.Fatalf("profile %s: %v", k.name, err)
		}
	}
	for i := range during {
		during[i] = during[i].minusIdle(idle, idleFor)
	}
	summarise(dir, kinds, during)
}

// txKind is one of the compared transactions.
type txKind struct {
	name     string
	contract *client.Contract
	fn       string
	args     func(id string) []string
	id       func(seq int) string
}

func (k txKind) slug() string { return strings.ReplaceAll(strings.ToLower(k.name), " ", "-") }

// submit commits one transaction of this kind with a fresh key.
func (k txKind) submit(ctx context.Context, seq int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, commit, err := k.contract.SubmitAsyncWithContext(ctx, k.fn, client.WithArguments(k.args(k.id(seq))...))
	if err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return fmt.Errorf("%s commit status: %w", k.name, err)
	}
	if !st.Successful {
		return fmt.Errorf("%s %s: %s", k.name, st.TransactionID, st.Code)
	}
	return nil
}

// load runs this kind open-loop at rate for d; seqs start at from. Nothing
// is retried: a retry would charge a failure's CPU to the next success.
func (k txKind) load(ctx context.Context, rate float64, d time.Duration, from int) loadgen.Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	r, _ := loadgen.Paced(ctx, rate, 512, func(ctx context.Context, _, seq int) (int, error) {
		return 0, k.submit(ctx, from+seq)
	})
	return r
}

// anatomy endorses and commits one transaction and describes what it
// carries: sizes, endorsements, and per chaincode namespace the keys read,
// written and given a key-level policy.
func (k txKind) anatomy(ctx context.Context, id string) (string, error) {
	prop, err := k.contract.NewProposal(k.fn, client.WithArguments(k.args(id)...))
	if err != nil {
		return "", fmt.Errorf("new proposal: %w", err)
	}
	txn, err := prop.EndorseWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("endorse: %w", err)
	}
	proposed, err1 := prop.Bytes()
	prepared, err2 := txn.Bytes()
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("serialise: %w", err)
	}
	commit, err := txn.SubmitWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("submit: %w", err)
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("commit status: %w", err)
	}
	if !st.Successful {
		return "", fmt.Errorf("transaction %s: %s", st.TransactionID, st.Code)
	}
	return describeTransaction(proposed, prepared)
}

// describeTransaction unpacks fabric-gateway's serialised proposal and
// endorsed transaction (gateway.ProposedTransaction, PreparedTransaction)
// down to the read-write set.
func describeTransaction(proposed, prepared []byte) (string, error) {
	var (
		pt  gateway.ProposedTransaction
		pr  gateway.PreparedTransaction
		pl  common.Payload
		tx  peer.Transaction
		cap peer.ChaincodeActionPayload
		prp peer.ProposalResponsePayload
		ca  peer.ChaincodeAction
		rws rwset.TxReadWriteSet
	)
	// Each layer is the bytes of a field of the one before, so the steps
	// run in order, each reading what the previous one decoded.
	for _, step := range []struct {
		what string
		from func() []byte
		into proto.Message
	}{
		{"proposal", func() []byte { return proposed }, &pt},
		{"transaction", func() []byte { return prepared }, &pr},
		{"payload", func() []byte { return pr.GetEnvelope().GetPayload() }, &pl},
		{"transaction actions", func() []byte { return pl.GetData() }, &tx},
		{"chaincode action payload", func() []byte { return firstAction(&tx) }, &cap},
		{"proposal response payload", func() []byte { return cap.GetAction().GetProposalResponsePayload() }, &prp},
		{"chaincode action", func() []byte { return prp.GetExtension() }, &ca},
		{"read-write set", func() []byte { return ca.GetResults() }, &rws},
	} {
		if err := proto.Unmarshal(step.from(), step.into); err != nil {
			return "", fmt.Errorf("%s: %w", step.what, err)
		}
	}
	var ns []string
	for _, n := range rws.GetNsRwset() {
		var kv kvrwset.KVRWSet
		if err := proto.Unmarshal(n.GetRwset(), &kv); err != nil {
			return "", fmt.Errorf("%s rwset: %w", n.GetNamespace(), err)
		}
		written := 0
		for _, w := range kv.GetWrites() {
			written += len(w.GetKey()) + len(w.GetValue())
		}
		ns = append(ns, fmt.Sprintf("%s: %d reads, %d range queries, %d writes (%d B), %d key policies",
			n.GetNamespace(), len(kv.GetReads()), len(kv.GetRangeQueriesInfo()), len(kv.GetWrites()), written, len(kv.GetMetadataWrites())))
	}
	return fmt.Sprintf("proposal %d B, transaction %d B, %d endorsements, response %d B, event %d B; %s",
		proto.Size(pt.GetProposal()), proto.Size(pr.GetEnvelope()), len(cap.GetAction().GetEndorsements()), len(ca.GetResponse().GetPayload()), len(ca.GetEvents()),
		strings.Join(ns, "; ")), nil
}

// firstAction is the payload of a transaction's only action (nil if none).
func firstAction(tx *peer.Transaction) []byte {
	if len(tx.GetActions()) == 0 {
		return nil
	}
	return tx.GetActions()[0].GetPayload()
}

// process is one process whose CPU time counts.
type process struct {
	name, group string
	pid         int
	pprof       string // base URL of its pprof endpoint, "" without
}

// processSet is every process of the benchmark's network and this one.
type processSet []process

// processes lists the network's nodes and chaincode servers (CAs are idle
// during the loads and not counted) and this process as the client.
func processes(b *testing.B, ln *localnet.Network) processSet {
	b.Helper()
	var out processSet
	add := func(name, group, pprof string) {
		pid, ok := proc.Running(ln.Layout.PIDFile(name))
		if !ok {
			b.Fatalf("%s is not running", name)
		}
		out = append(out, process{name: name, group: group, pid: pid, pprof: pprof})
	}
	for _, n := range ln.Layout.Nodes() {
		add(n.Name, string(n.Kind), fmt.Sprintf("http://127.0.0.1:%d", n.ProfilePort()))
	}
	for _, p := range ln.Layout.Peers() {
		add("chaincode."+p.Org.Label, "chaincode", "")
		add(localnet.ExtraServerName(refChaincode, p), "chaincode-"+refChaincode, fmt.Sprintf("http://127.0.0.1:%d", p.ExtraCCProfilePort()))
	}
	return append(out, process{name: "client", group: "client", pid: os.Getpid()})
}

// cpuSample is CPU time by process group over some work.
type cpuSample struct {
	cpu               map[string]time.Duration
	committed, failed int
}

// measure returns the CPU time each group used while work ran.
func (ps processSet) measure(work func()) cpuSample {
	read := func() map[string]time.Duration {
		m := map[string]time.Duration{}
		for _, p := range ps {
			t, err := proc.CPUTime(p.pid)
			if err == nil {
				m[p.name] = t
			}
		}
		return m
	}
	before := read()
	start := time.Now()
	work()
	elapsed := time.Since(start)
	after := read()
	s := cpuSample{cpu: map[string]time.Duration{"elapsed": elapsed}}
	for _, p := range ps {
		s.cpu[p.group] += after[p.name] - before[p.name]
	}
	return s
}

// minusIdle subtracts what the groups burn idle over the sample's time.
func (s cpuSample) minusIdle(idle cpuSample, idleFor time.Duration) cpuSample {
	scale := float64(s.cpu["elapsed"]) / float64(idleFor)
	for g, d := range idle.cpu {
		if g != "elapsed" {
			s.cpu[g] -= time.Duration(float64(d) * scale)
		}
	}
	return s
}

func (s *cpuSample) add(o cpuSample) {
	if s.cpu == nil {
		s.cpu = map[string]time.Duration{}
	}
	for g, d := range o.cpu {
		s.cpu[g] += d
	}
	s.committed += o.committed
	s.failed += o.failed
}

func (s cpuSample) total() time.Duration {
	var t time.Duration
	for g, d := range s.cpu {
		if g != "elapsed" {
			t += d
		}
	}
	return t
}

// perTx is d in milliseconds per committed transaction.
func (s cpuSample) perTx(d time.Duration) float64 {
	if s.committed == 0 {
		return 0
	}
	return float64(d.Microseconds()) / 1000 / float64(s.committed)
}

// profileUnderLoad runs the kind's load while it takes a CPU profile of
// every process with a pprof endpoint, and perf samples of shiptrace's
// chaincode servers when perf is installed, into dir.
func profileUnderLoad(ctx context.Context, k txKind, rate float64, seconds time.Duration, dir string, ps processSet, from int) (loadgen.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return loadgen.Result{}, err
	}
	loaded := make(chan loadgen.Result, 1)
	go func() { loaded <- k.load(ctx, rate, seconds+4*time.Second, from) }()
	time.Sleep(2 * time.Second) // the load reaches its rate first
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	ccPIDs := map[string][]string{} // chaincode server group -> PIDs
	for _, p := range ps {
		if strings.HasPrefix(p.group, "chaincode") {
			ccPIDs[p.group] = append(ccPIDs[p.group], strconv.Itoa(p.pid))
		}
		if p.pprof == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fetchProfile(ctx, p.pprof, seconds, filepath.Join(dir, p.name+".pb.gz")); err != nil {
				fail(fmt.Errorf("%s: %w", p.name, err))
			}
		}()
	}
	// Both contracts' servers through perf, so they compare with one tool
	// (perf also sees the kernel's share of each wake-up, pprof does not).
	if perf, err := exec.LookPath("perf"); err == nil {
		for group, pids := range ccPIDs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.CommandContext(ctx, perf, "record", "-e", "cpu-clock", "-F", "249", "-g", "-o", filepath.Join(dir, group+".perf.data"),
					"-p", strings.Join(pids, ","), "--", "sleep", strconv.Itoa(int(seconds.Seconds())))
				if out, err := cmd.CombinedOutput(); err != nil {
					fail(fmt.Errorf("perf record %s: %w: %s", group, err, out))
				}
			}()
		}
	}
	wg.Wait()
	r := <-loaded
	fmt.Printf("profiled %s for %s at %.1f committed tx/s (%d failed) into %s\n", k.name, seconds, r.Rate(), r.Errors, dir)
	if len(errs) > 0 {
		return r, errs[0]
	}
	return r, nil
}

// fetchProfile saves a CPU profile of seconds from a pprof endpoint.
func fetchProfile(ctx context.Context, base string, seconds time.Duration, path string) error {
	ctx, cancel := context.WithTimeout(ctx, seconds+30*time.Second)
	defer cancel()
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(seconds.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// summarise merges each group's profiles per kind, writes their top lists
// and the difference (CreateShipment minus the one-key write: both ran at
// the same rate for the same time), and prints per group where the CPU per
// transaction goes (breakdown), scaled by the CPU measured during the
// profiles.
func summarise(dir string, kinds [2]txKind, cpu [2]cpuSample) {
	dirs := [2]string{filepath.Join(dir, kinds[0].slug()), filepath.Join(dir, kinds[1].slug())}
	names := [2]string{kinds[0].name, kinds[1].name}
	perTx := func(group [2]string) [2]float64 {
		return [2]float64{cpu[0].perTx(cpu[0].cpu[group[0]]), cpu[1].perTx(cpu[1].cpu[group[1]])}
	}
	for _, g := range []struct{ title, glob, group string }{
		{"peers", "peer0.*.pb.gz", "peer"},
		{"orderers", "orderer*.pb.gz", "orderer"},
	} {
		var samples [2][]stack
		merged := [2]string{}
		for i, d := range dirs {
			files, _ := filepath.Glob(filepath.Join(d, g.glob))
			sort.Strings(files)
			merged[i] = filepath.Join(d, g.title+".pb.gz")
			if err := pprofTo(merged[i], append([]string{"-proto"}, files...)...); err != nil {
				fmt.Printf("merge %s profiles: %v\n", g.title, err)
				return
			}
			_ = pprofTo(filepath.Join(d, g.title+".top.txt"), "-top", "-nodecount=60", merged[i])
			var err error
			if samples[i], err = pprofStacks(merged[i]); err != nil {
				fmt.Println(err)
				return
			}
		}
		_ = pprofTo(filepath.Join(dir, g.title+".diff.top.txt"), "-top", "-cum", "-nodecount=80", "-diff_base="+merged[1], merged[0])
		breakdown(g.title, perTx([2]string{g.group, g.group}), samples, names)
	}
	// The contract's servers have no pprof endpoint: perf sampled both
	// chaincodes' servers.
	perfData := [2]string{filepath.Join(dirs[0], "chaincode.perf.data"), filepath.Join(dirs[1], "chaincode-"+refChaincode+".perf.data")}
	var cc [2][]stack
	for i, path := range perfData {
		if !fileExists(path) {
			fmt.Println("chaincode servers: no perf profile (perf not installed?)")
			return
		}
		var err error
		if cc[i], err = perfStacks(path); err != nil {
			fmt.Println("chaincode servers:", err)
			return
		}
		if b, err := exec.Command("perf", "report", "-i", path, "--stdio", "--children", "--sort", "symbol", "-g", "none", "--percent-limit", "1").Output(); err == nil {
			_ = os.WriteFile(strings.TrimSuffix(path, ".data")+".top.txt", b, 0o644)
		}
	}
	breakdown("chaincode servers (perf: shiptrace's / "+refChaincode+"'s)", perTx([2]string{"chaincode", "chaincode-" + refChaincode}), cc, names)
	fmt.Printf("profiles, top lists and CreateShipment-minus-reference diffs (go tool pprof -top -cum -diff_base) are in %s\n", dir)
}

// pprofTo runs `go tool pprof args...` and writes its output to path.
func pprofTo(path string, args ...string) error {
	out, err := exec.Command("go", append([]string{"tool", "pprof"}, args...)...).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof %s: %w", strings.Join(args, " "), err)
	}
	return os.WriteFile(path, out, 0o644)
}
