package outbox_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/proof"
)

// sentNote records a buyer notification and has it accepted with wamid.
func sentNote(t *testing.T, st *outbox.Store, tx, wamid string, at time.Time) notifier.Notification {
	t.Helper()
	n := rendered(tx, "+34611223344", "Zoraida", notifier.StatusQueued)
	n.EventType = "shipment.shipped"
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: tx}, plan(n)); err != nil {
		t.Fatal(err)
	}
	c, err := st.Claim(1, nil)
	if err != nil || len(c) != 1 {
		t.Fatalf("claim: %v %v", c, err)
	}
	if _, err := st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: wamid, At: at}); err != nil {
		t.Fatal(err)
	}
	return n
}

func records(t *testing.T, st *outbox.Store, id string) []proof.StatusRecord {
	t.Helper()
	raw, err := st.StatusRecords(id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]proof.StatusRecord, len(raw))
	for i, b := range raw {
		if out[i], err = proof.ParseRecord(b); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	return out
}

func statuses(rs []proof.StatusRecord) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Status)
	}
	return strings.Join(s, ",")
}

// TestStatusChangesAreRecordedOnceWithoutPersonalData: the send answer
// and every webhook status become one record each, with WhatsApp's time;
// Meta's repeats and stale statuses add nothing; the records name the
// notification and message by keyed references only.
func TestStatusChangesAreRecordedOnceWithoutPersonalData(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	t0 := time.Date(2026, 11, 23, 10, 42, 0, 0, time.UTC)
	n := sentNote(t, st, "tx1", metaWAMID, t0)
	for _, u := range []outbox.StatusUpdate{
		{WAMID: metaWAMID, Status: notifier.StatusSent, At: t0.Add(time.Second)},
		{WAMID: metaWAMID, Status: notifier.StatusDelivered, At: t0.Add(2 * time.Second)},
		{WAMID: metaWAMID, Status: notifier.StatusDelivered, At: t0.Add(2 * time.Second)}, // Meta retries
		{WAMID: metaWAMID, Status: notifier.StatusRead, At: t0.Add(5 * time.Minute)},
		{WAMID: metaWAMID, Status: notifier.StatusFailed, At: t0.Add(6 * time.Minute), Code: 131026}, // after delivery: ignored
		{WAMID: "wamid.other", Status: notifier.StatusRead, At: t0},                                  // unknown message
	} {
		if _, _, _, err := st.ApplyStatus(u); err != nil {
			t.Fatal(err)
		}
	}
	rs := records(t, st, n.ID)
	if got := statuses(rs); got != "accepted,sent,delivered,read" {
		t.Fatalf("records %s, want accepted,sent,delivered,read", got)
	}
	read := rs[3]
	if !read.At.Equal(t0.Add(5*time.Minute)) || read.Source != proof.SourceWebhook || read.ShipmentID != "SHP-1" ||
		read.Event != "shipment.shipped" || read.Recipient != "buyer" || read.Template != "shipment_shipped" ||
		read.Ref != refKey.NotificationRef(n.ID) || read.MessageRef != refKey.MessageRef(metaWAMID) {
		t.Fatalf("read record %+v", read)
	}
	if rs[0].Source != proof.SourceSendResponse || !rs[0].At.Equal(t0) {
		t.Fatalf("accepted record %+v", rs[0])
	}
	for _, b := range mustRaw(t, st, n.ID) {
		for _, personal := range []string{"34611223344", "Zoraida", metaWAMID, "wamid", n.ID, "tx1"} {
			if bytes.Contains(b, []byte(personal)) {
				t.Fatalf("record %s holds %q", b, personal)
			}
		}
	}
}

func mustRaw(t *testing.T, st *outbox.Store, id string) [][]byte {
	t.Helper()
	raw, err := st.StatusRecords(id)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestFailuresAreRecorded: a refused send and a failed webhook that leads
// to a retry are lifecycle steps too, with their codes.
func TestFailuresAreRecorded(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	t0 := time.Date(2026, 11, 23, 10, 42, 0, 0, time.UTC)
	n := sentNote(t, st, "tx1", "wamid.first", t0)
	if _, ok, err := st.RequeueFailed(outbox.StatusUpdate{WAMID: "wamid.first", Status: notifier.StatusFailed, At: t0.Add(time.Second), Code: 131000}, t0, 5); err != nil || !ok {
		t.Fatalf("requeue: %v %v", ok, err)
	}
	c, _ := st.Claim(1, nil)
	if _, err := st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusFailed, Code: 131026, At: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	rs := records(t, st, n.ID)
	if got := statuses(rs); got != "accepted,failed,failed" {
		t.Fatalf("records %s", got)
	}
	if rs[1].ErrorCode != 131000 || rs[1].MessageRef == "" || rs[2].ErrorCode != 131026 || rs[2].MessageRef != "" {
		t.Fatalf("failure records %+v", rs[1:])
	}
}

// TestBatchProofAndCrashBetweenCutAndMark: a cut batch keeps its ID and
// root across a restart until it is marked; the proof is pending until
// then, and afterwards every record checks against the batch root.
func TestBatchProofAndCrashBetweenCutAndMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	t0 := time.Date(2026, 11, 23, 10, 42, 0, 0, time.UTC)
	var ids []string
	for i, tx := range []string{"tx1", "tx2", "tx3"} {
		w := "wamid.m" + tx
		n := sentNote(t, st, tx, w, t0.Add(time.Duration(i)*time.Second))
		st.ApplyStatus(outbox.StatusUpdate{WAMID: w, Status: notifier.StatusRead, At: t0.Add(time.Minute)})
		ids = append(ids, n.ID)
	}
	if p, err := st.Proof(ids[0]); err != nil || p.State != proof.StatePending || len(p.Records) != 2 {
		t.Fatalf("proof before batching: %+v %v", p, err)
	}
	b, ok, err := st.CutBatch(100)
	if err != nil || !ok || b.LeafCount != 6 || !b.FirstAt.Equal(t0) || !b.LastAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("cut: %+v %v %v", b, ok, err)
	}
	if err := shipmentAnchorOK(b); err != nil {
		t.Fatal(err)
	}
	st.Close() // the anchorer crashed after (or before) submitting
	st = open(t, path)
	defer st.Close()
	pend, err := st.PendingBatches()
	if err != nil || len(pend) != 1 || pend[0].ID != b.ID || pend[0].Root != b.Root {
		t.Fatalf("pending after restart: %+v %v, want %s", pend, err, b.ID)
	}
	if _, ok, _ := st.CutBatch(100); ok {
		t.Fatal("the same records were cut into a second batch")
	}
	if p, _ := st.Proof(ids[0]); p.State != proof.StatePending {
		t.Fatalf("proof of an unmarked batch is %s", p.State)
	}
	if err := st.MarkAnchored(b.ID, outbox.Anchoring{TxID: "anchortx", Block: 42, At: t0.Add(2 * time.Minute), By: "ExporterMSP"}); err != nil {
		t.Fatal(err)
	}
	if pend, _ := st.PendingBatches(); len(pend) != 0 {
		t.Fatalf("still pending: %+v", pend)
	}
	if a, _ := st.AnchorStatus(); a != (outbox.AnchorStatus{Records: 6, Batches: 1}) {
		t.Fatalf("anchor status %+v", a)
	}
	for _, id := range ids {
		p, err := st.Proof(id)
		if err != nil || p.State != proof.StateAnchored || len(p.Records) != 2 {
			t.Fatalf("proof of %s: %+v %v", id, p, err)
		}
		for _, rp := range p.Records {
			if rp.Root != b.Root || rp.TxID != "anchortx" || rp.Block != 42 || rp.BatchID != b.ID || rp.AnchoredBy != "ExporterMSP" {
				t.Fatalf("record proof %+v", rp)
			}
			if _, err := rp.CheckInclusion(); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	if _, err := st.Proof("tx9/shipment.shipped/buyer"); !errors.Is(err, outbox.ErrNoRecords) {
		t.Fatalf("proof of an unknown notification: %v", err)
	}
	// Records after the batch go into the next one, with the next ID.
	st.ApplyStatus(outbox.StatusUpdate{WAMID: "wamid.mtx1", Status: notifier.StatusRead, At: t0.Add(time.Hour)}) // repeat: nothing
	n4 := sentNote(t, st, "tx4", "wamid.mtx4", t0.Add(time.Hour))
	b2, ok, _ := st.CutBatch(100)
	if !ok || b2.LeafCount != 1 || b2.ID == b.ID || b2.FirstSeq != b.LastSeq+1 {
		t.Fatalf("second batch %+v after %+v", b2, b)
	}
	if p, _ := st.Proof(n4.ID); p.State != proof.StatePending {
		t.Fatalf("proof of the second batch's record before marking: %s", p.State)
	}
}

// shipmentAnchorOK checks a batch makes a valid anchor request.
func shipmentAnchorOK(b outbox.Batch) error {
	if _, err := hex.DecodeString(b.Root); err != nil || len(b.Root) != 64 {
		return errors.New("root is not hex SHA-256: " + b.Root)
	}
	if !strings.HasPrefix(b.ID, "nb-") {
		return errors.New("batch ID " + b.ID)
	}
	return nil
}

// TestStatusRecordsSurviveErasure: contact.deleted removes the number,
// name and wamid from the notification but not its status records (they
// hold none of them), and the proof still checks; the file then holds no
// form of the number or the wamid.
func TestStatusRecordsSurviveErasure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	defer st.Close()
	t0 := time.Date(2026, 11, 23, 10, 42, 0, 0, time.UTC)
	n := sentNote(t, st, "tx1", metaWAMID, t0)
	st.ApplyStatus(outbox.StatusUpdate{WAMID: metaWAMID, Status: notifier.StatusRead, At: t0.Add(5 * time.Minute)})
	b, _, _ := st.CutBatch(10)
	st.MarkAnchored(b.ID, outbox.Anchoring{TxID: "anchortx", Block: 7, At: t0.Add(6 * time.Minute), By: "ExporterMSP"})
	before := mustRaw(t, st, n.ID)
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 3, TxID: "tx5"}, outbox.EraseContact("SHP-1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	after := mustRaw(t, st, n.ID)
	if len(after) != 2 || !bytes.Equal(bytes.Join(before, nil), bytes.Join(after, nil)) {
		t.Fatalf("records changed by the erasure:\n%s\n%s", before, after)
	}
	p, err := st.Proof(n.ID)
	if err != nil || p.State != proof.StateAnchored {
		t.Fatalf("proof after erasure: %+v %v", p, err)
	}
	for _, rp := range p.Records {
		if _, err := rp.CheckInclusion(); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"34611223344", "Zoraida", metaWAMID} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the store file still holds %q after erasure", s)
		}
	}
}

// TestStatusFromTheFutureIsRecordedNow: a status dated ahead of the
// notifier's clock would make the contract refuse its batch (and hold back
// every later one), so it is recorded at the notifier's time.
func TestStatusFromTheFutureIsRecordedNow(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	now := time.Now()
	n := sentNote(t, st, "tx1", metaWAMID, now)
	st.ApplyStatus(outbox.StatusUpdate{WAMID: metaWAMID, Status: notifier.StatusRead, At: now.Add(24 * time.Hour)})
	rs := records(t, st, n.ID)
	if len(rs) != 2 || rs[1].At.After(time.Now().Add(time.Second)) || rs[1].At.Before(now.Add(-time.Second)) {
		t.Fatalf("records %+v: the read time should be the notifier's now", rs)
	}
}

// TestProofOfASkippedNotificationHasNothingToProve: a notification that
// never became a message has state none, one still queued pending.
func TestProofOfASkippedNotificationHasNothingToProve(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	skipped := rendered("tx1", "+34611223344", "Zoraida", notifier.StatusSkipped)
	queued := rendered("tx2", "+34611223344", "Zoraida", notifier.StatusQueued)
	queued.NextAt = time.Now().Add(time.Hour)
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx2"}, plan(skipped, queued)); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Proof(skipped.ID); err != nil || p.State != proof.StateNone || len(p.Records) != 0 {
		t.Fatalf("skipped: %+v %v", p, err)
	}
	if p, err := st.Proof(queued.ID); err != nil || p.State != proof.StatePending {
		t.Fatalf("queued: %+v %v", p, err)
	}
}
