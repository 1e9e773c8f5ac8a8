package notifier_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/loadgen"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// BenchmarkEventToWhatsApp measures, on the running system started by
// `scripts/up` (gateway, notifier and stand-in as deployed), the time from
// the commit of the block holding a Ship transaction to the WhatsApp
// stand-in receiving the "shipped" template request, under a background
// load of other shipments' creates and readings.
//
// The clock starts at the exporter's peer's own record of the commit: its
// log line "Committed block [N]", which the ledger writes with a millisecond
// time stamp as the block's state commit ends, before the deliver service
// hands the block out. A Fabric block carries no commit time (its header has
// a number and hashes; the timestamps inside are the clients' proposal
// times, from before endorsement and ordering), and a client-side clock
// (this process's block events, or a commit status) lags whenever the load
// generator in the same process is short of CPU; the benchmark prints that
// lag for comparison. The notifier reads its chaincode events from that same
// peer, so the clock includes all of the notifier's share (event intake, the
// contact query, the outbox, the sender) and none of the submitter's. The
// stand-in stamps each request on arrival, on the same host clock.
//
// Each sample is a new shipment with its own buyer number (so neither the
// per-recipient pacing nor the daily cap applies), created and shipped
// through the gateway at SHIPTRACE_BENCH_SAMPLE_RATE per second (default 10)
// until SHIPTRACE_BENCH_SAMPLES (default 1000) are shipped, while
// SHIPTRACE_BENCH_LOAD (default 100) writes per second of other shipments go
// straight to Fabric: creates without a buyer contact and in-range readings
// batches, half each. Target: p99 under 100 ms.
//
//	go test ./test/notifier -run '^$' -bench EventToWhatsApp -benchtime 1x
func BenchmarkEventToWhatsApp(b *testing.B) {
	net := testnet.Require(b)
	sys := net.System(b)
	samples := loadgen.EnvInt("SHIPTRACE_BENCH_SAMPLES", 1000)
	sampleRate := float64(loadgen.EnvInt("SHIPTRACE_BENCH_SAMPLE_RATE", 10))
	loadRate := float64(loadgen.EnvInt("SHIPTRACE_BENCH_LOAD", 100))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	peerLog := net.Layout(b).LogFile("peer0.exporter")
	logStart, err := fileSize(peerLog)
	if err != nil {
		b.Fatal(err)
	}
	events, err := watchCommits(ctx, net)
	if err != nil {
		b.Fatal(err)
	}
	// Enough shipments that each gets a readings batch only every second
	// or two: a batch read against a peer still a block behind on the
	// previous one is refused by disagreeing endorsers.
	bg, err := newBackground(ctx, b, net, 96)
	if err != nil {
		b.Fatal(err)
	}
	defer bg.close()
	loadCtx, stopLoad := context.WithCancel(ctx)
	var (
		load   loadgen.Result
		missed int
		loaded = make(chan struct{})
	)
	go func() {
		defer close(loaded)
		load, missed = loadgen.Paced(loadCtx, loadRate, maxInFlight, bg.write)
	}()
	time.Sleep(2 * time.Second) // the load reaches its rate before samples count

	shipped := shipSamples(ctx, sys.Client(), samples, sampleRate)
	stopLoad()
	<-loaded

	commits, err := peerCommits(peerLog, logStart, net.Profile.Channel)
	if err != nil {
		b.Fatal(err)
	}
	arrived, lost := awaitMessages(b, ctx, sys.StandinURL, shipped)
	lats := since(shipped, arrived, commits.of)
	answered := since(shipped, arrived, func(s *sample) (time.Time, bool) { return s.answeredAt, !s.answeredAt.IsZero() })
	lag := eventLag(shipped, commits, events)
	p := func(ds []time.Duration, q float64) string {
		return loadgen.Percentile(ds, q).Round(100 * time.Microsecond).String()
	}
	fmt.Printf("\nevent-to-WhatsApp on the running system: block commit (exporter's peer) → stand-in receipt\n")
	fmt.Printf("background: %.1f writes/s committed of %.0f asked (%d failed, %d retried, %d not started: %d in flight at most), each in p50 %s, p99 %s\n",
		load.Rate(), loadRate, load.Errors, load.Retries, missed, maxInFlight,
		load.Percentile(.5).Round(time.Millisecond), load.Percentile(.99).Round(time.Millisecond))
	if load.FirstErr != nil {
		fmt.Printf("first background error: %v%s\n", load.FirstErr, testnet.PeerMessages(load.FirstErr))
	}
	nFailed, firstErr := failed(shipped)
	fmt.Printf("%d samples (%d failed to ship, %d messages not received within 60 s)\n", len(lats), nFailed, lost)
	if firstErr != nil {
		fmt.Printf("first sample error: %v\n", firstErr)
	}
	if len(lats) == 0 {
		b.Fatal("no sample")
	}
	fmt.Printf("p50 %s, p90 %s, p99 %s, max %s (target p99 < 100 ms)\n",
		p(lats, .5), p(lats, .9), p(lats, .99), p(lats, 1))
	fmt.Printf("for comparison, from the gateway's answer to the Ship call: p50 %s, p99 %s; block events reached this process p50 %s, p99 %s after the peer's commit (%d samples without a commit time, block stream reopened %d times)\n",
		p(answered, .5), p(answered, .99), p(lag, .5), p(lag, .99), withoutCommit(shipped, commits), events.reopenedCount())
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(lats, .5)), "p50-ms")
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(lats, .9)), "p90-ms")
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(lats, .99)), "p99-ms")
	b.ReportMetric(loadgen.Ms(loadgen.Percentile(lats, 1)), "max-ms")
	b.ReportMetric(load.Rate(), "load-tx/s")
}

// maxInFlight bounds the background writes under way at once: at 100/s and
// a commit in about 0.3 s some 30 are. A network that cannot keep up gets
// no more than this (the rest of the schedule is counted as not started)
// rather than a pile of retries that would only measure the pile.
const maxInFlight = 64

// commitClock is when each block was committed, or delivered.
type commitClock struct {
	mu       sync.Mutex
	at       map[uint64]time.Time
	reopened int // block streams reopened (a block seen again after a reopen keeps its first time)
}

func (c *commitClock) block(n uint64) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.at[n]
	return t, ok
}

// of is the commit time of a sample's Ship transaction.
func (c *commitClock) of(s *sample) (time.Time, bool) { return c.block(s.block) }

func (c *commitClock) reopenedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reopened
}

// committedLine is the peer ledger's INFO line for a committed block, after
// the logging format's time stamp ("2006-01-02 15:04:05.000 MST").
var committedLine = regexp.MustCompile(`(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+) .*\[([^\]]+)\] Committed block \[(\d+)\]`)

// peerCommits reads the commit time of every block of channel the peer
// logged from byte offset from of its log on.
func peerCommits(path string, from int64, channel string) (*commitClock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("peer log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, fmt.Errorf("peer log %s: %w", path, err)
	}
	clock := &commitClock{at: map[uint64]time.Time{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := committedLine.FindStringSubmatch(sc.Text())
		if m == nil || m[2] != channel {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02 15:04:05.000 MST", m[1], time.Local)
		if err != nil {
			return nil, fmt.Errorf("peer log %s: time stamp %q: %w", path, m[1], err)
		}
		n, _ := strconv.ParseUint(m[3], 10, 64)
		clock.at[n] = t
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("peer log %s: %w", path, err)
	}
	if len(clock.at) == 0 {
		return nil, fmt.Errorf("peer log %s: no \"Committed block\" line for %s since the benchmark started (FABRIC_LOGGING_SPEC must keep kvledger at INFO)", path, channel)
	}
	return clock, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("peer log: %w", err)
	}
	return fi.Size(), nil
}

// watchCommits follows filtered block events on the exporter's peer (the one
// the notifier reads) from the next block on, until ctx ends.
func watchCommits(ctx context.Context, net *testnet.Network) (*commitClock, error) {
	gw, conn, err := net.Profile.Connect("ExporterMSP", "User1")
	if err != nil {
		return nil, fmt.Errorf("connect to the exporter's peer: %w", err)
	}
	network := gw.GetNetwork(net.Profile.Channel)
	clock := &commitClock{at: map[uint64]time.Time{}}
	events, err := network.FilteredBlockEvents(ctx)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("block events: %w", err)
	}
	go func() {
		defer conn.Close()
		defer gw.Close()
		var next uint64
		for {
			for blk := range events {
				now := time.Now()
				clock.mu.Lock()
				if _, seen := clock.at[blk.GetNumber()]; !seen {
					clock.at[blk.GetNumber()] = now
				}
				clock.mu.Unlock()
				next = blk.GetNumber() + 1
			}
			if ctx.Err() != nil {
				return
			}
			// A peer may end a stream that starts at the block it is
			// committing just now (see testnet.AwaitBlock): open it again.
			clock.mu.Lock()
			clock.reopened++
			clock.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			if events, err = network.FilteredBlockEvents(ctx, client.WithStartBlock(next)); err != nil {
				return
			}
		}
	}()
	return clock, nil
}

// openDirect is the Fabric adapter signing as one member's User1.
func openDirect(net *testnet.Network, name, mspID string) (*fabric.Client, error) {
	m, err := net.Profile.Member(name, mspID, "User1")
	if err != nil {
		return nil, err
	}
	return fabric.Open([]fabric.Member{m}, fabric.Options{Channel: net.Profile.Channel, Chaincode: net.Profile.Chaincode})
}

// background writes other shipments: creates without a contact (nothing to
// send) and in-range readings batches on shipments the carrier holds, each
// shipment one batch at a time (two batches of one shipment in a block
// conflict). The exporter and the carrier sign through separate adapters:
// one adapter for both would make every carrier write first poll the
// carrier's peer until it has the exporter's latest block (fabric.Client's
// read-your-writes across members), which at this rate is its own load.
type background struct {
	exporter, carrier *fabric.Client
	prefix            string
	free              chan *stream
}

// stream is one in-transit shipment and the time of its last reading
// (readings move forward, inside the carrier's custody).
type stream struct {
	id   string
	last time.Time
}

// newBackground prepares n shipments in the carrier's custody and waits
// until the carrier's and the retailer's peers (whose endorsements a
// readings batch needs) have them.
func newBackground(ctx context.Context, b *testing.B, net *testnet.Network, n int) (*background, error) {
	bg := &background{prefix: testnet.UniqueID("BGLOAD"), free: make(chan *stream, n)}
	var err error
	if bg.exporter, err = openDirect(net, "exporter", "ExporterMSP"); err != nil {
		return nil, err
	}
	if bg.carrier, err = openDirect(net, "carrier", "CarrierMSP"); err != nil {
		bg.exporter.Close()
		return nil, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		top  uint64
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("%s-T%d", bg.prefix, i)
			err := bg.create(ctx, id)
			var c fabric.Committed
			for _, step := range [][]string{{"Ship", id}, {"HandOver", id, "CarrierMSP"}} {
				if err == nil {
					c, err = bg.exporter.Submit(ctx, fabric.Request{Identity: "exporter", Tx: step[0], Args: step[1:]})
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("prepare %s: %w", id, err))
				return
			}
			top = max(top, c.BlockNumber)
			bg.free <- &stream{id: id, last: time.Now()}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		bg.close()
		return nil, errs[0]
	}
	for _, msp := range []string{"CarrierMSP", "RetailerMSP"} {
		if err := testnet.AwaitBlock(ctx, net.Gateway(b, msp).GetNetwork(net.Profile.Channel), top); err != nil {
			bg.close()
			return nil, fmt.Errorf("%s's peer: %w", msp, err)
		}
	}
	return bg, nil
}

func (bg *background) close() {
	bg.exporter.Close()
	bg.carrier.Close()
}

func (bg *background) create(ctx context.Context, id string) error {
	arg, err := json.Marshal(testnet.NewShipment(id, "RetailerMSP", "CarrierMSP", time.Now().Add(30*24*time.Hour)))
	if err != nil {
		return err
	}
	_, err = bg.exporter.Submit(ctx, fabric.Request{Identity: "exporter", Tx: "CreateShipment", Args: []string{string(arg)}})
	return err
}

// write is one background write: odd ones a readings batch when a shipment
// is free, everything else a create; what the adapter calls retryable is
// retried (loadgen.DefaultPolicy).
func (bg *background) write(ctx context.Context, _, seq int) (int, error) {
	try := func(ctx context.Context) error { return bg.create(ctx, fmt.Sprintf("%s-C%d", bg.prefix, seq)) }
	if seq%2 == 1 {
		select {
		case s := <-bg.free:
			defer func() { bg.free <- s }()
			try = func(ctx context.Context) error { return bg.readings(ctx, s) }
		default:
		}
	}
	return loadgen.DefaultPolicy.Do(ctx, func(ctx context.Context) error {
		err := try(ctx)
		var fe *fabric.Error
		if errors.As(err, &fe) && fe.Retryable {
			return loadgen.Retryable(err)
		}
		return err
	})
}

func (bg *background) readings(ctx context.Context, s *stream) error {
	t := time.Now().UTC().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	batch := make([]shipment.Reading, 10)
	for i := range batch {
		batch[i] = shipment.Reading{SensorID: "logger-1", Time: t, Celsius: 5}
		t = t.Add(time.Millisecond)
	}
	arg, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	_, err = bg.carrier.Submit(ctx, fabric.Request{Identity: "carrier", Tx: "RecordReadings", Args: []string{s.id, string(arg)}})
	if err == nil {
		s.last = batch[len(batch)-1].Time
	}
	return err
}

// sample is one shipment shipped through the gateway.
type sample struct {
	id, phone  string
	block      uint64
	answeredAt time.Time
	err        error
}

// shipSamples creates n shipments with a buyer contact and ships them,
// starting one every 1/rate seconds.
func shipSamples(ctx context.Context, c *walk.Client, n int, rate float64) []*sample {
	run, _ := rand.Int(rand.Reader, big.NewInt(1000))
	out := make([]*sample, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := range out {
		<-tick.C
		s := &sample{id: walk.NewID("LAT"), phone: fmt.Sprintf("+4917%03d%06d", run.Int64(), i)}
		out[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			contact := shipment.Contact{Phone: s.phone, Name: "Bench", Language: "en", Consent: true}
			rc, err := write(ctx, c, http.StatusCreated, "/v1/shipments", walk.NewShipment(s.id, &contact))
			if err == nil && (rc.BuyerContact == nil || !rc.BuyerContact.Stored) {
				err = fmt.Errorf("create %s: buyer contact not stored: %s", s.id, contactProblem(rc))
			}
			if err == nil {
				rc, err = write(ctx, c, http.StatusOK, "/v1/shipments/"+s.id+"/ship", nil)
			}
			if s.err = err; err == nil {
				s.answeredAt, s.block = time.Now(), rc.Transaction.BlockNumber
			}
		}()
	}
	wg.Wait()
	return out
}

// write posts as the exporter with an Idempotency-Key, retrying what the
// gateway calls retryable (an overloaded 2-core machine sees some), and
// decodes the receipt.
func write(ctx context.Context, c *walk.Client, want int, path string, body any) (*walk.Receipt, error) {
	r, _, err := c.DoRetry(ctx, walk.RetryPolicy{MaxAttempts: 5}, "exporter", http.MethodPost, path, body, walk.NewID("idem"), nil)
	if err != nil {
		return nil, err
	}
	if r.Status != want {
		return nil, r.Err()
	}
	var rc walk.Receipt
	return &rc, r.Decode(&rc)
}

// contactProblem renders why the gateway did not store a buyer contact.
func contactProblem(rc *walk.Receipt) string {
	if rc.BuyerContact == nil || rc.BuyerContact.Problem == nil {
		return "no answer about it"
	}
	p := rc.BuyerContact.Problem
	return fmt.Sprintf("%d %s %s %s", p.Status, p.Slug(), p.Code, p.Detail)
}

// failed counts the samples that were not shipped, with the first error.
func failed(ss []*sample) (n int, first error) {
	for _, s := range ss {
		if s.err != nil {
			n++
			if first == nil {
				first = s.err
			}
		}
	}
	return n, first
}

// awaitMessages waits (up to 60 s) for every shipped sample's "shipped"
// message at the stand-in and returns when each arrived, by recipient
// digits, and how many never came.
func awaitMessages(b *testing.B, ctx context.Context, standin string, ss []*sample) (arrived map[string]time.Time, lost int) {
	b.Helper()
	arrived = map[string]time.Time{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		msgs, err := walk.Messages(ctx, standin)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if m.Accepted && walk.SameTemplate(m.Template, "shipment_shipped") {
				if _, seen := arrived[m.To]; !seen {
					arrived[m.To] = m.ReceivedAt
				}
			}
		}
		lost = 0
		for _, s := range ss {
			if _, ok := arrived[walk.Digits(s.phone)]; s.err == nil && !ok {
				lost++
			}
		}
		if lost == 0 || time.Now().After(deadline) {
			return arrived, lost
		}
		time.Sleep(time.Second)
	}
}

// since returns, for every sample whose message arrived, the time from
// start(sample) to the arrival.
func since(ss []*sample, arrived map[string]time.Time, start func(*sample) (time.Time, bool)) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		at, ok := arrived[walk.Digits(s.phone)]
		if s.err != nil || !ok {
			continue
		}
		if t0, ok := start(s); ok {
			out = append(out, at.Sub(t0))
		}
	}
	return out
}

// withoutCommit counts shipped samples whose block the peer's log does not
// show (a log rotated during the run).
func withoutCommit(ss []*sample, commits *commitClock) int {
	n := 0
	for _, s := range ss {
		if _, ok := commits.of(s); s.err == nil && !ok {
			n++
		}
	}
	return n
}

// eventLag is how long after the peer's commit this process received each
// sample's block as an event.
func eventLag(ss []*sample, commits, events *commitClock) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		c, ok1 := commits.of(s)
		e, ok2 := events.of(s)
		if s.err == nil && ok1 && ok2 {
			out = append(out, e.Sub(c))
		}
	}
	return out
}
