package fault_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
)

// story is one shipment of a fault test with its buyer contact.
type story struct {
	id      string
	contact shipment.Contact
	created shipment.Shipment
	shipTx  string
	final   shipment.Shipment
	deliver string
}

func newStories(n int, prefix string) []*story {
	out := make([]*story, n)
	for i := range out {
		out[i] = &story{id: walk.NewID(prefix), contact: shipment.Contact{Phone: walk.NewPhone("+35191"),
			Name: fmt.Sprintf("Buyer %d", i), Language: []string{"pt_BR", "en", "fr"}[i%3], Consent: true}}
	}
	return out
}

// each runs f for every story with a few in parallel and returns the first
// error.
func each(stories []*story, parallel int, f func(*story) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, parallel)
	for _, s := range stories {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(s); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func (st *story) expectShipped() walk.Expected {
	return walk.ShippedMessage(st.id, st.shipTx, st.contact, st.created)
}

func (st *story) expectDelivered() walk.Expected {
	return walk.DeliveredMessage(st.id, st.deliver, st.contact, st.final)
}

// act posts a write with an Idempotency-Key and retries it, with the same
// key, while the answer is retryable (502/503, 409 key in use). Retries are
// logged: they are not what these tests are about, but they are worth
// seeing. header adds headers (walk.ReturnRecord for the record).
func (s *system) act(ctx context.Context, t *testing.T, member, id, action string, body any, header map[string]string) (*walk.Receipt, error) {
	r, attempts, err := s.c.DoRetry(ctx, walk.RetryPolicy{MaxAttempts: 10, MaxWait: time.Minute}, member, http.MethodPost,
		"/v1/shipments/"+id+"/"+action, body, walk.NewID("idem"), header)
	if len(attempts) > 1 {
		t.Logf("%s %s %s: retried: %s", member, action, id, compact(attempts))
	}
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return nil, r.Err()
	}
	var rc walk.Receipt
	if err := r.Decode(&rc); err != nil {
		return nil, err
	}
	if header["Prefer"] != "" && rc.Shipment == nil {
		return nil, fmt.Errorf("%s %s: asked for the record (%s), got %s", action, id, header["Prefer"], r.Body)
	}
	return &rc, nil
}

// waitSeenBy polls until member's peer (reads go through the caller's own
// peer) shows the shipment in the status: a write through one
// organisation's peer reaches another's a few milliseconds later.
func (s *system) waitSeenBy(ctx context.Context, member, id string, want shipment.Status) error {
	return walk.Eventually(ctx, 30*time.Second, 20*time.Millisecond, func() error {
		sh, err := s.c.Shipment(ctx, member, id)
		if err != nil {
			return err
		}
		if sh.Status != want {
			return fmt.Errorf("%s sees %s as %s, not %s", member, id, sh.Status, want)
		}
		return nil
	})
}

// waitAllRead polls the notifier's listing until every expected
// notification is read; it returns the listing by notification ID.
func waitAllRead(t *testing.T, s *system, stories []*story, want []walk.Expected, within time.Duration) map[string]walk.Notification {
	t.Helper()
	ctx := context.Background()
	byID := map[string]walk.Notification{}
	err := walk.Eventually(ctx, within, 250*time.Millisecond, func() error {
		clear(byID)
		for _, st := range stories {
			ns, err := s.sys.Notifications(ctx, st.id)
			if err != nil {
				return err
			}
			for _, n := range ns {
				byID[n.ID] = n
			}
		}
		notRead := 0
		var example string
		for _, e := range want {
			if n, ok := byID[e.NotificationID()]; !ok || n.Status != "read" {
				notRead++
				example = fmt.Sprintf("%s: %+v", e, n)
			}
		}
		if notRead > 0 {
			return fmt.Errorf("%d of %d notifications not read yet, e.g. %s", notRead, len(want), example)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("notifier listing: %v", err)
	}
	return byID
}

// TestNotifierKilledMidStream ships and delivers shipments with a buyer
// contact each and SIGKILLs the notifier while their events stream in and
// messages are being sent (the stand-in answers slowly, so some sends are in
// flight at the kill). After a restart every expected message must have
// reached the stand-in exactly once: no loss, no duplicate.
func TestNotifierKilledMidStream(t *testing.T) {
	s := private(t, portNotifier)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const n = 12
	stories := newStories(n, "FLT-NTF")
	if err := each(stories, 4, func(st *story) error {
		rc, err := s.c.CreateRecord(ctx, walk.NewShipment(st.id, &st.contact), "")
		if err == nil {
			st.created = *rc.Shipment
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Every send now takes 300 ms at the stand-in, so several are in flight
	// (marked sending, request out) whenever the notifier dies.
	if err := postJSON(ctx, s.sys.StandinURL+"/_standin/faults", `{"kind":"latency","latency":"300ms","for":"10m"}`); err != nil {
		t.Fatal(err)
	}

	var want []walk.Expected
	var wmu sync.Mutex
	driven := make(chan error, 1)
	go func() {
		// Ship everything, then deliver everything: two waves of events,
		// and the per-recipient pacing (6 s) spreads the sends further.
		err := each(stories, 4, func(st *story) error {
			rc, err := s.act(ctx, t, "exporter", st.id, "ship", nil, nil)
			if err != nil {
				return err
			}
			st.shipTx = rc.Transaction.ID
			if err := s.waitSeenBy(ctx, "retailer", st.id, shipment.StatusShipped); err != nil {
				return err
			}
			wmu.Lock()
			want = append(want, st.expectShipped())
			wmu.Unlock()
			return nil
		})
		if err == nil {
			err = each(stories, 4, func(st *story) error {
				rc, err := s.act(ctx, t, "retailer", st.id, "deliver", nil, walk.ReturnRecord)
				if err != nil {
					return err
				}
				st.deliver, st.final = rc.Transaction.ID, *rc.Shipment
				wmu.Lock()
				want = append(want, st.expectDelivered())
				wmu.Unlock()
				return nil
			})
		}
		driven <- err
	}()

	// Kill once a third of the 2n messages have arrived.
	mine := func() (int, error) {
		msgs, err := walk.Messages(ctx, s.sys.StandinURL)
		if err != nil {
			return 0, err
		}
		c := 0
		for _, st := range stories {
			c += len(walk.About(msgs, st.id))
		}
		return c, nil
	}
	var atKill int
	if err := walk.Eventually(ctx, 2*time.Minute, 20*time.Millisecond, func() error {
		c, err := mine()
		if err != nil {
			return err
		}
		if c < 2*n/3 {
			return fmt.Errorf("%d of %d messages at the stand-in", c, 2*n)
		}
		atKill = c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var status struct {
		Notifications map[string]int `json:"notifications"`
	}
	_ = s.sys.NotifierJSON(ctx, "/v1/status", &status)
	s.net.Kill(t, "notifier")
	killedAt := time.Now()
	t.Logf("SIGKILL notifier with %d of %d messages at the stand-in; outbox just before: %v", atKill, 2*n, status.Notifications)

	if err := <-driven; err != nil {
		t.Fatalf("writes while the notifier was down: %v", err)
	}
	t.Logf("all %d ships and %d deliveries committed, %s after the kill", n, n, time.Since(killedAt).Round(time.Millisecond))
	s.net.Shipnet(t, "start")
	t.Logf("notifier restarted %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	var after struct {
		RecoveredAtStart int `json:"recoveredAtStart"`
	}
	if err := s.sys.NotifierJSON(ctx, "/v1/status", &after); err == nil {
		t.Logf("notifier recovered %d in-flight notifications at start (sending -> uncertain)", after.RecoveredAtStart)
	}

	byID := waitAllRead(t, s, stories, want, 3*time.Minute)
	msgs, err := walk.Messages(ctx, s.sys.StandinURL)
	if err != nil {
		t.Fatal(err)
	}
	tally := walk.Check(msgs, want)
	resent := 0
	for _, e := range want {
		if byID[e.NotificationID()].Attempts > 1 {
			resent++
		}
	}
	t.Logf("after restart: %d expected messages, %d received, duplicates %d, losses %d, unexpected %d; %d notifications took more than one attempt",
		len(want), len(want)-len(tally.Missing), len(tally.Duplicated), len(tally.Missing), len(tally.Unexpected), resent)
	if !tally.OK() {
		t.Errorf("stand-in record: %s", tally)
	}
	if len(byID) != len(want) {
		t.Errorf("notifier recorded %d notifications for the %d shipments, want %d", len(byID), n, len(want))
	}
}

// TestWholeSystemStopStart stops every process (`shipnet stop`) and starts
// them again (`shipnet start`): the ledger, the notifier's checkpoint and
// outbox (a message still being retried at the stop is sent once after the
// start; a message already sent is not sent again) and the gateway's
// idempotency journal (a repeat replays the first answer byte for byte) are
// intact, and processing resumes (new writes commit and are notified).
func TestWholeSystemStopStart(t *testing.T) {
	s := private(t, portRestart)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	stories := newStories(2, "FLT-RST")
	a, b := stories[0], stories[1]
	for _, st := range stories {
		rc, err := s.c.CreateRecord(ctx, walk.NewShipment(st.id, &st.contact), "")
		if err != nil {
			t.Fatal(err)
		}
		st.created = *rc.Shipment
	}
	// a's "shipped" goes out and is read before the stop.
	rc, err := s.c.Act(ctx, "exporter", a.id, "ship", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	a.shipTx = rc.Transaction.ID
	waitAllRead(t, s, []*story{a}, []walk.Expected{a.expectShipped()}, time.Minute)

	// b's "shipped" is refused with a transient error until the stop, so
	// it sits in the outbox waiting for a retry.
	fault := fmt.Sprintf(`{"kind":"error","code":131000,"httpStatus":500,"for":"10m","to":%q}`, walk.Digits(b.contact.Phone))
	if err := postJSON(ctx, s.sys.StandinURL+"/_standin/faults", fault); err != nil {
		t.Fatal(err)
	}
	rc, err = s.c.Act(ctx, "exporter", b.id, "ship", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	b.shipTx = rc.Transaction.ID
	bID := b.expectShipped().NotificationID()
	var pending walk.Notification
	if err := walk.Eventually(ctx, time.Minute, 100*time.Millisecond, func() error {
		ns, err := s.sys.Notifications(ctx, b.id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.ID == bID && n.Attempts >= 1 && n.Status == "queued" {
				pending = n
				return nil
			}
		}
		return fmt.Errorf("%s not yet refused and queued for a retry: %+v", bID, ns)
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("before the stop: %s is %s after %d refused attempt(s)", bID, pending.Status, pending.Attempts)

	// An idempotent write whose answer the journal keeps.
	key := walk.NewID("idem-restart")
	doc := walk.Certificate(a.id)
	first, err := s.c.Expect(ctx, http.StatusOK, "exporter", http.MethodPost, "/v1/shipments/"+a.id+"/documents", doc, map[string]string{"Idempotency-Key": key})
	if err != nil {
		t.Fatal(err)
	}
	histBefore, err := s.c.History(ctx, "carrier", a.id)
	if err != nil {
		t.Fatal(err)
	}
	var cpBefore struct {
		Checkpoint struct {
			Block uint64 `json:"block"`
			TxID  string `json:"txId"`
		} `json:"checkpoint"`
	}
	if err := s.sys.NotifierJSON(ctx, "/v1/status", &cpBefore); err != nil {
		t.Fatal(err)
	}
	heights := map[string]uint64{}
	for name, p := range s.statusOf(t) {
		if p.Height > 0 {
			heights[name] = p.Height
		}
	}

	stopAt := time.Now()
	s.net.Shipnet(t, "stop")
	for name, p := range s.statusOf(t) {
		if p.Up || p.PID != 0 {
			t.Errorf("after stop, %s is still running (pid %d)", name, p.PID)
		}
	}
	t.Logf("stop took %s", time.Since(stopAt).Round(100*time.Millisecond))
	startAt := time.Now()
	s.net.Shipnet(t, "start")
	s.waitReady(t, 2*time.Minute)
	t.Logf("start took %s (until gateway and notifier ready)", time.Since(startAt).Round(100*time.Millisecond))

	t.Run("ledger", func(t *testing.T) {
		for name, p := range s.statusOf(t) {
			if h, ok := heights[name]; ok && p.Height < h {
				t.Errorf("%s: height %d after the restart, %d before", name, p.Height, h)
			}
		}
		h, err := s.c.History(ctx, "retailer", a.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != len(histBefore) || h[len(h)-1].TxID != histBefore[len(histBefore)-1].TxID {
			t.Errorf("history of %s: %d entries ending %s, before the stop %d ending %s", a.id, len(h), h[len(h)-1].TxID,
				len(histBefore), histBefore[len(histBefore)-1].TxID)
		}
	})
	t.Run("gateway journal", func(t *testing.T) {
		again, err := s.c.Do(ctx, "exporter", http.MethodPost, "/v1/shipments/"+a.id+"/documents", doc, map[string]string{"Idempotency-Key": key})
		if err != nil {
			t.Fatal(err)
		}
		if again.Status != first.Status || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("repeat after restart: %d replayed=%q body equal %v; want the first answer (%d) replayed",
				again.Status, again.Header.Get("Idempotent-Replayed"), string(again.Body) == string(first.Body), first.Status)
		}
	})
	t.Run("notifier checkpoint", func(t *testing.T) {
		var cp struct {
			Checkpoint struct {
				Block uint64 `json:"block"`
			} `json:"checkpoint"`
		}
		if err := s.sys.NotifierJSON(ctx, "/v1/status", &cp); err != nil {
			t.Fatal(err)
		}
		if cp.Checkpoint.Block < cpBefore.Checkpoint.Block {
			t.Errorf("checkpoint block %d after the restart, %d before", cp.Checkpoint.Block, cpBefore.Checkpoint.Block)
		}
	})

	// Processing resumes: a's journey continues and is notified.
	if _, err := s.act(ctx, t, "exporter", a.id, "handover", map[string]string{"toMSP": "RetailerMSP"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.waitSeenBy(ctx, "retailer", a.id, shipment.StatusInTransit); err != nil {
		t.Fatal(err)
	}
	rc, err = s.act(ctx, t, "retailer", a.id, "deliver", nil, walk.ReturnRecord)
	if err != nil {
		t.Fatal(err)
	}
	a.deliver, a.final = rc.Transaction.ID, *rc.Shipment

	// The stand-in restarted with an empty record: since the start it must
	// have received b's pending "shipped" and a's new "delivered", once
	// each, and not a's "shipped" again.
	want := []walk.Expected{b.expectShipped(), a.expectDelivered()}
	byID := waitAllRead(t, s, stories, append(want, a.expectShipped()), 3*time.Minute)
	msgs, err := walk.Messages(ctx, s.sys.StandinURL)
	if err != nil {
		t.Fatal(err)
	}
	tally := walk.Check(msgs, want)
	t.Logf("after the restart the stand-in received %d messages about the two shipments: %s", len(walk.About(msgs, a.id))+len(walk.About(msgs, b.id)), tally)
	if !tally.OK() {
		t.Errorf("stand-in record since the restart: %s", tally)
	}
	t.Logf("%s: read after %d attempts (the outbox kept it across the stop)", bID, byID[bID].Attempts)
	if len(byID) != 3 {
		t.Errorf("notifier lists %d notifications for the two shipments, want 3: %v", len(byID), byID)
	}
}
