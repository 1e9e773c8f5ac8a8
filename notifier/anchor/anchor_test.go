package anchor_test

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/anchor"
	"github.com/shiptrace/shiptrace/notifier/anchor/anchortest"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/proof"
)

var refKey, _ = notifier.NewRefKey([]byte("anchor-test-phone-reference-key!"))

// lifecycle records n notifications, each accepted, delivered and read.
func lifecycle(t *testing.T, st *outbox.Store, prefix string, n int, t0 time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		tx := fmt.Sprintf("%s%03d", prefix, i)
		note := notifier.Notification{ID: notifier.NotificationID(tx, "coldchain.breached", "buyer"), TxID: tx, ShipmentID: "SHP-1",
			EventType: "coldchain.breached", Recipient: "buyer", Phone: "+34611223344", Status: notifier.StatusQueued,
			Message: notifier.Message{Template: "shipment_breach_buyer"}, EventTime: t0}
		if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: uint64(i + 1), TxID: tx}, func(outbox.View) []notifier.Notification { return []notifier.Notification{note} }); err != nil {
			t.Fatal(err)
		}
		c, err := st.Claim(1, nil)
		if err != nil || len(c) != 1 {
			t.Fatalf("claim: %v", err)
		}
		w := "wamid." + tx
		st.Finish(outbox.Result{ID: note.ID, Status: notifier.StatusSent, WAMID: w, At: t0})
		st.ApplyStatus(outbox.StatusUpdate{WAMID: w, Status: notifier.StatusDelivered, At: t0.Add(time.Second)})
		st.ApplyStatus(outbox.StatusUpdate{WAMID: w, Status: notifier.StatusRead, At: t0.Add(5 * time.Minute)})
		ids = append(ids, note.ID)
	}
	return ids
}

func newAnchorer(st *outbox.Store, l anchor.Ledger) *anchor.Anchorer {
	return &anchor.Anchorer{Store: st, Ledger: l, Interval: time.Hour, MaxLeaves: 4, Log: slog.New(slog.DiscardHandler)}
}

// TestRoundsAnchorEveryRecordAndProofsVerify: records are cut into batches
// of at most MaxLeaves, each anchored once; every notification's proof
// then verifies against the ledger, and a tampered one does not.
func TestRoundsAnchorEveryRecordAndProofsVerify(t *testing.T) {
	st, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"), outbox.WithRefKey(refKey))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 23, 10, 42, 0, 0, time.UTC)
	ids := lifecycle(t, st, "evt", 3, t0) // 9 records: batches of 4, 4, 1
	l := anchortest.New()
	a := newAnchorer(st, l)
	if err := a.Round(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, writes := l.Counts(); writes != 3 {
		t.Fatalf("%d anchors written in one round, want 3 (4 + 4 + 1 records)", writes)
	}
	if err := a.Round(t.Context()); err != nil {
		t.Fatal(err)
	}
	if calls, writes := l.Counts(); writes != 3 || calls != 3 {
		t.Fatalf("an idle round: %d writes, %d calls", writes, calls)
	}
	for _, id := range ids {
		p, err := st.Proof(id)
		if err != nil || p.State != proof.StateAnchored {
			t.Fatalf("proof of %s: %s %v", id, p.State, err)
		}
		v, err := proof.Verify(t.Context(), p, l)
		if err != nil || len(v) != 3 || v[2].Record.Status != "read" || !v[2].Record.At.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("verify %s: %+v %v", id, v, err)
		}
	}
	p, _ := st.Proof(ids[1])
	for name, tamper := range map[string]func(*proof.Proof){
		"read time": func(p *proof.Proof) {
			p.Records[2].Record = strings.Replace(p.Records[2].Record, "10:47:00Z", "10:46:00Z", 1)
		},
		"status": func(p *proof.Proof) {
			p.Records[1].Record = strings.Replace(p.Records[1].Record, `"delivered"`, `"read"`, 1)
		},
		"block":       func(p *proof.Proof) { p.Records[0].Block++ },
		"transaction": func(p *proof.Proof) { p.Records[0].TxID = "tx9999" },
		"root":        func(p *proof.Proof) { p.Records[0].Root = strings.Repeat("1", 64) },
		"batch":       func(p *proof.Proof) { p.Records[0].BatchID = "nb-unknown-000001" },
	} {
		q := p
		q.Records = append([]proof.RecordProof(nil), p.Records...)
		tamper(&q)
		if _, err := proof.Verify(t.Context(), q, l); err == nil {
			t.Errorf("%s tampered: the proof still verifies", name)
		} else {
			t.Logf("%s tampered: %v", name, err)
		}
	}
}

// TestCrashBetweenSubmitAndMarkResumesTheSameBatch: the notifier stops
// after the ledger committed a batch and before the store marked it. After
// the restart the same batch (ID and root) is submitted again, the ledger
// writes nothing new, and the batch is marked with the first transaction;
// no record is batched twice. While the ledger is unreachable the batch
// stays pending and nothing newer is cut ahead of it.
func TestCrashBetweenSubmitAndMarkResumesTheSameBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st, err := outbox.Open(path, outbox.WithRefKey(refKey))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 10, 42, 0, 0, time.UTC)
	ids := lifecycle(t, st, "evt", 1, t0)
	l := anchortest.New()
	a := newAnchorer(st, l)
	crash := errors.New("killed")
	var cut outbox.Batch
	a.Submitted = func(b outbox.Batch) error { cut = b; return crash }
	if err := a.Round(t.Context()); !errors.Is(err, crash) {
		t.Fatalf("round: %v", err)
	}
	st.Close()

	st, err = outbox.Open(path, outbox.WithRefKey(refKey))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pend, _ := st.PendingBatches()
	if len(pend) != 1 || pend[0].ID != cut.ID || pend[0].Root != cut.Root {
		t.Fatalf("pending after restart %+v, want %s %s", pend, cut.ID, cut.Root)
	}
	lifecycle(t, st, "later", 1, t0.Add(time.Hour)) // newer records arrive meanwhile
	l.SetDown(true)
	a = newAnchorer(st, l)
	if err := a.Round(t.Context()); err == nil {
		t.Fatal("round with the ledger down succeeded")
	}
	if pend, _ := st.PendingBatches(); len(pend) != 1 || pend[0].ID != cut.ID {
		t.Fatalf("a newer batch was cut while the first was pending: %+v", pend)
	}
	l.SetDown(false)
	if err := a.Round(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, writes := l.Counts(); writes != 2 {
		t.Fatalf("%d anchors written, want 2 (the resumed batch once, the newer one)", writes)
	}
	b, err := st.Batch(cut.ID)
	if err != nil || !b.Anchored() || b.TxID != "tx0011" || b.Block != 11 || b.Root != cut.Root {
		t.Fatalf("resumed batch %+v %v, want the first transaction tx0011 in block 11", b, err)
	}
	p, _ := st.Proof(ids[0])
	if _, err := proof.Verify(t.Context(), p, l); err != nil {
		t.Fatal(err)
	}
}
