package hosts_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// tally counts the writes of the partition, each an intent with its own
// Idempotency-Key, retried with that key while the answer is retryable.
type tally struct {
	mu                            sync.Mutex
	attempted, committed, refused int
	retries                       int
	byShipment                    map[string]int // committed writes per shipment
	refusedWhy                    map[string]int // final status and problem of refused writes
}

func (w *tally) record(id string, r *walk.Response, attempts []walk.Attempt, err error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attempted++
	w.retries += max(len(attempts)-1, 0)
	if err == nil && r != nil && (r.Status == http.StatusOK || r.Status == http.StatusCreated) {
		w.committed++
		w.byShipment[id]++
		return true
	}
	w.refused++
	why := fmt.Sprint(err)
	if r != nil {
		why = fmt.Sprintf("%d %s", r.Status, r.Problem().Slug())
	}
	w.refusedWhy[why]++
	return false
}

// TestPartitionedMemberCatchesUp cuts the exporter's host off from every
// other host while the carrier and the retailer keep writing.
//
// What the endorsement policy requires (chaincode/README.md): a new key
// needs any 2 of the 3 members' peers; every later change of a shipment
// needs the peers of all its parties (exporter AND buyer AND the carrier
// holding it). So while the exporter is cut off, shipments whose parties are
// the carrier (as exporter: the local registry lists every member in every
// capacity) and the retailer (buyer) keep moving: created by the carrier
// (carrier + retailer peers), shipped by the carrier, a document added by
// the retailer. Every write on the exporter's own shipments needs the
// exporter's peer and is refused, retryably: through the exporter's own
// gateway (503 with Retry-After) and through the retailer's.
//
// After the link returns: the exporter's peer catches up (time per thousand
// blocks logged as a figure), its gateway serves every write committed
// during the cut, each exactly once (a shipment's version counts its
// writes: a doubled write would show), the refused writes commit when sent
// again with their Idempotency-Key, and the exporter's notifier, whose
// messages for the shipments it shipped just before the cut could not reach
// WhatsApp (also beyond the cut), sends each of them exactly once.
func TestPartitionedMemberCatchesUp(t *testing.T) {
	net := testnet.RequireHosts(t)
	sys := net.System(t)
	local := net.Local(t)
	c := sys.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	requireGatewaysReady(ctx, t, c)
	// Whatever happens, the exporter is reconnected when the test ends.
	t.Cleanup(func() { _ = local.Isolate(context.Background(), "exporter", false) })
	t.Cleanup(func() { _ = local.IsolateFrom(context.Background(), "exporter", []string{"whatsapp"}, false) })

	// The carrier's shipments (parties: the carrier as exporter, the
	// retailer as buyer) that take documents during the cut: three per
	// writer, so concurrent writers never update one key together.
	const writers, perWriter = 4, 3
	theirs := make([][]string, writers)
	var prep sync.WaitGroup
	prepErr := make(chan error, writers)
	for i := range theirs {
		prep.Add(1)
		go func() {
			defer prep.Done()
			for j := 0; j < perWriter; j++ {
				id := walk.NewID("PART-CAR")
				req := walk.NewShipment(id, nil)
				req.Carrier = ""
				if _, err := c.Expect(ctx, http.StatusCreated, "carrier", http.MethodPost, "/v1/shipments", req, nil); err != nil {
					prepErr <- err
					return
				}
				if _, err := c.Act(ctx, "carrier", id, "ship", nil, ""); err != nil {
					prepErr <- err
					return
				}
				theirs[i] = append(theirs[i], id)
			}
		}()
	}
	prep.Wait()
	close(prepErr)
	if err := <-prepErr; err != nil {
		t.Fatal(err)
	}

	// Before the cut: Meta's cloud (the stand-in's host) goes out of the
	// exporter's reach first, then the exporter ships shipments whose buyers
	// get a WhatsApp message each: the notifier records them but cannot send
	// them until the link returns.
	if err := local.IsolateFrom(ctx, "exporter", []string{"whatsapp"}, true); err != nil {
		t.Fatal(err)
	}
	var want []walk.Expected
	var own []string
	for i := 0; i < 3; i++ {
		id := walk.NewID("PART-EXP")
		contact := shipment.Contact{Phone: walk.NewPhone("+49152"), Name: "Jonas", Language: "de", Consent: true}
		if _, err := c.Create(ctx, walk.NewShipment(id, &contact), ""); err != nil {
			t.Fatal(err)
		}
		rc, err := c.ActRecord(ctx, "exporter", id, "ship", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, walk.ShippedMessage(id, rc.Transaction.ID, contact, *rc.Shipment))
		own = append(own, id)
	}
	exporterPeer, _ := local.Layout.PeerOf(topology.ExporterOrg.MSPID)
	carrierPeer, _ := local.Layout.PeerOf(topology.CarrierOrg.MSPID)
	if err := local.Isolate(ctx, "exporter", true); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	msgs, _ := walk.Messages(ctx, sys.StandinURL)
	if tl := walk.Check(msgs, want); len(tl.Count) > 0 {
		t.Errorf("messages reached the stand-in while its host was out of the exporter's reach: %s", tl)
	}
	t.Logf("exporter's host cut off from the other %d hosts; none of its %d messages has reached WhatsApp", len(local.Layout.AllHosts())-1, len(want))

	var wg sync.WaitGroup
	// The cut-off member's own gateway: a write on its shipment needs the
	// buyer's peer, beyond the cut. Retryable: 503 with Retry-After.
	exporterKey := walk.NewID("part-handover")
	var exporterAnswer *walk.Response
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		r, err := c.Do(ctx, "exporter", http.MethodPost, "/v1/shipments/"+own[0]+"/handover", map[string]string{"toMSP": "CarrierMSP"},
			map[string]string{"Idempotency-Key": exporterKey})
		if err != nil {
			t.Errorf("exporter's gateway during the cut: %v", err)
			return
		}
		exporterAnswer = r
		t.Logf("exporter's gateway, cut off, answers a hand-over with %d %s (Retry-After %q) after %s",
			r.Status, r.Problem().Slug(), r.Header.Get("Retry-After"), time.Since(start).Round(time.Millisecond))
	}()

	// The others write for a while through their own gateways: documents
	// on the carrier's shipments (their parties' peers: carrier and
	// retailer), by both of them in turn, and one new shipment per writer
	// (any 2 of the 3 peers).
	w := &tally{byShipment: map[string]int{}, refusedWhy: map[string]int{}}
	created := &tally{byShipment: map[string]int{}, refusedWhy: map[string]int{}}
	needsExporter := &tally{byShipment: map[string]int{}, refusedWhy: map[string]int{}}
	policy := walk.RetryPolicy{MaxAttempts: 10, MaxWait: time.Minute, MaxPause: time.Second}
	writeFor := 20 * time.Second
	for worker := 0; worker < writers; worker++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			id := walk.NewID("PART-NEW")
			req := walk.NewShipment(id, nil)
			req.Carrier = ""
			r, at, err := c.DoRetry(ctx, policy, "carrier", http.MethodPost, "/v1/shipments", req, walk.NewID("k"), nil)
			created.record(id, r, at, err)
		}()
		go func() {
			defer wg.Done()
			for k := 0; time.Since(cutAt) < writeFor && ctx.Err() == nil; k++ {
				id := theirs[worker][k%perWriter]
				member := []string{"carrier", "retailer"}[k%2]
				doc := map[string]string{"type": "certificate_of_origin", "sha256": fmt.Sprintf("%064x", k+1000*worker),
					"uri": "https://docs.example/" + id + "/" + fmt.Sprint(k)}
				r, at, err := c.DoRetry(ctx, policy, member, http.MethodPost, "/v1/shipments/"+id+"/documents", doc, walk.NewID("k"), nil)
				w.record(id, r, at, err)
			}
		}()
	}
	// A write the policy cannot allow without the exporter: the buyer adds a
	// document to the exporter's shipment, through its own gateway.
	wg.Add(1)
	retailerKey := walk.NewID("part-doc")
	go func() {
		defer wg.Done()
		r, at, err := c.DoRetry(ctx, walk.RetryPolicy{MaxAttempts: 2, MaxWait: 15 * time.Second, MaxPause: time.Second},
			"retailer", http.MethodPost, "/v1/shipments/"+own[1]+"/documents", walk.Certificate(own[1]), retailerKey, nil)
		needsExporter.record(own[1], r, at, err)
	}()
	wg.Wait()

	exporterHeight, err := local.PeerHeight(ctx, exporterPeer)
	if err != nil {
		t.Fatal(err)
	}
	othersHeight, err := local.PeerHeight(ctx, carrierPeer)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: writes during the cut (%s) through the carrier's and retailer's gateways: documents attempted %d, committed %d, refused %d %v, retried %d times; new shipments attempted %d, committed %d, refused %d %v, retried %d times; needing the exporter: attempted %d, refused %d %v",
		time.Since(cutAt).Round(time.Millisecond), w.attempted, w.committed, w.refused, w.refusedWhy, w.retries,
		created.attempted, created.committed, created.refused, created.refusedWhy, created.retries,
		needsExporter.attempted, needsExporter.refused, needsExporter.refusedWhy)
	if w.committed == 0 || w.refused != 0 || created.committed != created.attempted {
		t.Errorf("writes not needing the exporter: %d+%d committed, %d+%d refused (%v %v); want all committed",
			w.committed, created.committed, w.refused, created.refused, w.refusedWhy, created.refusedWhy)
	}
	if needsExporter.refused != 1 {
		t.Errorf("a document on the exporter's shipment committed without the exporter's peer")
	}
	if exporterAnswer != nil && (exporterAnswer.Status != http.StatusServiceUnavailable || exporterAnswer.Header.Get("Retry-After") == "") {
		t.Errorf("exporter's gateway, cut off, answers %d %s (Retry-After %q), want 503 with Retry-After",
			exporterAnswer.Status, exporterAnswer.Body, exporterAnswer.Header.Get("Retry-After"))
	}
	if exporterHeight >= othersHeight {
		t.Fatalf("the exporter's peer is at height %d, the others at %d: the cut did not cut", exporterHeight, othersHeight)
	}

	// Reconnect and time the catch-up.
	if err := local.Isolate(ctx, "exporter", false); err != nil {
		t.Fatal(err)
	}
	healAt := time.Now()
	behind := othersHeight - exporterHeight
	// The first new block marks the peer's deliver client reconnecting
	// (after its back-off); from then on the time is the blocks' transfer
	// and commit.
	back, err := waitCaughtUp(ctx, local, exporterPeer, exporterHeight, othersHeight, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	firstBlockAt, firstHeight := back.firstAt, back.firstHeight
	catchUp := time.Since(healAt)
	transfer := time.Since(firstBlockAt)
	t.Logf("figure: partition catch-up: the exporter's peer, %d blocks behind after %s cut off, caught up %s after the link returned (%s per 1000 blocks): first block after %s (reconnection back-off), then %d blocks in %s (%s per 1000 blocks)",
		behind, healAt.Sub(cutAt).Round(time.Second), catchUp.Round(time.Millisecond),
		(catchUp * 1000 / time.Duration(max(behind, 1))).Round(time.Millisecond),
		firstBlockAt.Sub(healAt).Round(time.Millisecond), othersHeight-firstHeight, transfer.Round(time.Millisecond),
		(transfer * 1000 / time.Duration(max(othersHeight-firstHeight, 1))).Round(time.Millisecond))

	// Its gateway serves the new state: every write committed during the
	// cut, each exactly once.
	checked := 0
	for _, ids := range theirs {
		for _, id := range ids {
			n := w.byShipment[id]
			got, _, err := readAfter(ctx, c, "exporter", id, othersHeight-1, int64(2+n), 30*time.Second)
			if err != nil {
				t.Errorf("exporter reads %s (%d documents committed during the cut): %v", id, n, err)
				continue
			}
			if got.Version != int64(2+n) || len(got.Documents) != n {
				t.Errorf("%s: version %d and %d documents through the exporter's gateway, but create, ship and %d documents committed: lost or doubled",
					id, got.Version, len(got.Documents), n)
			}
			checked++
		}
	}
	for id := range created.byShipment {
		if _, _, err := readAfter(ctx, c, "exporter", id, othersHeight-1, 1, 30*time.Second); err != nil {
			t.Errorf("exporter reads %s, created during the cut: %v", id, err)
		}
		checked++
	}
	t.Logf("the exporter's gateway serves all %d shipments written during the cut, each at the version its committed writes give", checked)

	// The refused writes, sent again with the same keys, commit once.
	r, _, err := c.DoRetry(ctx, walk.RetryPolicy{MaxWait: time.Minute}, "exporter", http.MethodPost, "/v1/shipments/"+own[0]+"/handover",
		map[string]string{"toMSP": "CarrierMSP"}, exporterKey, nil)
	if err != nil || r.Status != http.StatusOK {
		t.Errorf("the exporter's hand-over, sent again after the cut: %v %v", err, r)
	}
	r, _, err = c.DoRetry(ctx, walk.RetryPolicy{MaxWait: time.Minute}, "retailer", http.MethodPost, "/v1/shipments/"+own[1]+"/documents",
		walk.Certificate(own[1]), retailerKey, nil)
	if err != nil || r.Status != http.StatusOK {
		t.Errorf("the retailer's document, sent again after the cut: %v %v", err, r)
	}
	for _, id := range own[:2] {
		got, _, err := readAfter(ctx, c, "carrier", id, 0, 3, 30*time.Second)
		if err != nil || got.Version != 3 {
			t.Errorf("%s after the retried write: version %v (%v), want 3 (create, ship, the one retried write)", id, got, err)
		}
	}

	// The notifier resumes: every message exactly once.
	var tl walk.Tally
	if err := walk.Eventually(ctx, 2*time.Minute, 200*time.Millisecond, func() error {
		msgs, err := walk.Messages(ctx, sys.StandinURL)
		if err != nil {
			return err
		}
		if tl = walk.Check(msgs, want); len(tl.Missing) > 0 {
			return fmt.Errorf("%s", tl)
		}
		return nil
	}); err != nil || !tl.OK() {
		t.Fatalf("the exporter's notifier after the cut: %v; %s", err, tl)
	}
	t.Logf("the exporter's notifier sent each of its %d messages exactly once (%s after the link returned)", len(want), time.Since(healAt).Round(time.Millisecond))
}
