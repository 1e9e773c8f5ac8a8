package outbox_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// refKey is the tests' phone reference key.
var refKey, _ = notifier.NewRefKey([]byte("outbox-test-phone-reference-key!"))

func open(t *testing.T, path string, opts ...outbox.Option) *outbox.Store {
	t.Helper()
	st, err := outbox.Open(path, append([]outbox.Option{outbox.WithRefKey(refKey)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func note(tx string) notifier.Notification {
	return notifier.Notification{ID: notifier.NotificationID(tx, "shipment.shipped", "buyer"), TxID: tx, ShipmentID: "SHP-1",
		Recipient: "buyer", Phone: "+34600000001", Status: notifier.StatusQueued, EventTime: time.Now()}
}

func plan(ns ...notifier.Notification) outbox.Plan {
	return func(outbox.View) []notifier.Notification { return ns }
}

func TestReplayedEventCreatesNoSecondNotification(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	cp := notifier.Checkpoint{Block: 5, TxID: "tx1"}
	if w, err := st.Record(t.Context(), cp, plan(note("tx1"))); err != nil || len(w) != 1 {
		t.Fatalf("first record: %d written, %v", len(w), err)
	}
	st.Close()
	st = open(t, path) // survives a reopen
	defer st.Close()
	if got, _ := st.Checkpoint(); got != cp {
		t.Errorf("checkpoint %+v, want %+v", got, cp)
	}
	if w, err := st.Record(t.Context(), cp, plan(note("tx1"))); err != nil || len(w) != 0 {
		t.Fatalf("replay: %d written, %v", len(w), err)
	}
	ns, _ := st.ByShipment("SHP-1")
	if len(ns) != 1 {
		t.Errorf("%d notifications for the shipment, want 1", len(ns))
	}
}

func TestCapCountSeenWithinOneBatch(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	var seen []int
	p := func(tx string) outbox.Plan {
		return func(v outbox.View) []notifier.Notification {
			n := note(tx)
			seen = append(seen, v.SentOnDay(n.Phone, n.EventTime))
			return []notifier.Notification{n}
		}
	}
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "c"}, p("a"), p("b"), p("c")); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0] != 0 || seen[1] != 1 || seen[2] != 2 {
		t.Errorf("cap counts seen by successive plans = %v, want [0 1 2]", seen)
	}
}

func TestClaimMarksSendingAndRecoverMakesItUncertain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(note("tx1")))
	c, err := st.Claim(10, nil)
	if err != nil || len(c) != 1 || c[0].Status != notifier.StatusSending || c[0].Attempts != 1 {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if again, _ := st.Claim(10, nil); len(again) != 0 {
		t.Fatalf("a claimed notification was claimed again")
	}
	st.Close() // "crash" with the attempt in flight
	st = open(t, path)
	defer st.Close()
	n, err := st.Recover(time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("recover = %d, %v", n, err)
	}
	got, _ := st.Get(c[0].ID)
	if got.Status != notifier.StatusUncertain || got.NextAt.Before(time.Now().Add(59*time.Minute)) {
		t.Errorf("after recover: %s due %s", got.Status, got.NextAt)
	}
	if again, _ := st.Claim(10, nil); len(again) != 0 {
		t.Errorf("an uncertain notification was claimed before its reconcile window")
	}
	// The provider's status webhook carries our ID: the attempt did go through.
	_, after, found, err := st.ApplyStatus(outbox.StatusUpdate{WAMID: "wamid.X", CallbackData: c[0].ID, Status: notifier.StatusSent, At: time.Now()})
	if err != nil || !found || after.Status != notifier.StatusSent || after.WAMID != "wamid.X" {
		t.Fatalf("reconcile: %+v found=%v err=%v", after, found, err)
	}
	if due, ok, _ := st.NextDue(); ok {
		t.Errorf("a reconciled notification is still queued (due %s)", due)
	}
}

func TestFinishAfterWebhookKeepsTheLaterState(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(note("tx1")))
	c, _ := st.Claim(1, nil)
	st.ApplyStatus(outbox.StatusUpdate{WAMID: "wamid.Y", CallbackData: c[0].ID, Status: notifier.StatusDelivered, At: time.Now()})
	got, err := st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: "wamid.Y", At: time.Now()})
	if err != nil || got.Status != notifier.StatusDelivered {
		t.Errorf("finish after delivered webhook: %s, %v", got.Status, err)
	}
}

func TestRetryIsDueOnlyAfterItsTime(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(note("tx1")))
	c, _ := st.Claim(1, nil)
	st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusQueued, NextAt: time.Now().Add(time.Hour), At: time.Now(), Code: 130429})
	if again, _ := st.Claim(1, nil); len(again) != 0 {
		t.Error("a retry was claimed before it was due")
	}
	got, _ := st.Get(c[0].ID)
	if got.ErrorCode != 130429 || got.Status != notifier.StatusQueued {
		t.Errorf("after retry: %+v", got)
	}
}

func TestGateDefersPacedRecipient(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	a, b := note("a"), note("b")
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "b"}, plan(a, b))
	later := time.Now().Add(time.Hour)
	n := 0
	c, _ := st.Claim(10, func(notifier.Notification) (bool, time.Time) {
		n++
		return n == 1, later
	})
	if len(c) != 1 {
		t.Fatalf("claimed %d, want 1", len(c))
	}
	due, ok, _ := st.NextDue()
	if !ok || !due.Equal(time.Unix(0, later.UnixNano())) {
		t.Errorf("deferred notification due %s, want %s", due, later)
	}
}

func TestGetUnknown(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	if _, err := st.Get("nope"); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("err = %v", err)
	}
}
