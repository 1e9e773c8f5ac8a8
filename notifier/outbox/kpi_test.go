package outbox_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// TestRepliesCountOncePerDeliveredMessageWithin24Hours: a reply quoting a
// message (context.id) counts for it, a second reply does not, a reply
// after the 24-hour window does not, and the counts survive a reopen.
func TestRepliesCountOncePerDeliveredMessageWithin24Hours(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := open(t, path, outbox.WithClock(clock))
	a, b := note("tx1"), note("tx2")
	b.Phone = "+34600000002"
	for _, n := range []*notifier.Notification{&a, &b} {
		n.Message = notifier.Message{Template: "shipment_shipped", Language: "es"}
		n.Variant = "B"
	}
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx2"}, plan(a, b)); err != nil {
		t.Fatal(err)
	}
	claimed, _ := st.Claim(10, nil)
	for _, n := range claimed {
		st.Finish(outbox.Result{ID: n.ID, Status: notifier.StatusSent, WAMID: "wamid-" + n.TxID, At: now})
		st.ApplyStatus(outbox.StatusUpdate{WAMID: "wamid-" + n.TxID, Status: notifier.StatusDelivered, At: now})
	}
	if ok, err := st.RecordReply("+34600000001", "wamid-tx1", now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("reply quoting the message: counted %v, %v", ok, err)
	}
	if ok, _ := st.RecordReply("+34600000001", "wamid-tx1", now.Add(2*time.Hour)); ok {
		t.Error("a second reply to one message counted again")
	}
	if ok, _ := st.RecordReply("+34600000002", "", now.Add(25*time.Hour)); ok {
		t.Error("a reply 25 h after delivery counted")
	}
	st.Close()
	st = open(t, path, outbox.WithClock(clock))
	defer st.Close()
	ks, err := st.KPIs()
	if err != nil || len(ks) != 1 {
		t.Fatalf("KPIs %+v, %v", ks, err)
	}
	k := ks[0]
	if k.Template != "shipment_shipped" || k.Language != "es" || k.Variant != "B" ||
		k.Accepted != 2 || k.Sent != 2 || k.Delivered != 2 || k.Replied != 1 {
		t.Errorf("after a reopen: %+v", k)
	}
}

// TestErasureForgetsTheReplyIndex: after contact.deleted no reply from the
// buyer is matched to the erased message (the index entry went with it).
func TestErasureForgetsTheReplyIndex(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	n := note("tx1")
	n.Message = notifier.Message{Template: "shipment_shipped", Language: "es"}
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(n))
	claimed, _ := st.Claim(10, nil)
	st.Finish(outbox.Result{ID: claimed[0].ID, Status: notifier.StatusSent, WAMID: "wamid-1", At: time.Now()})
	st.ApplyStatus(outbox.StatusUpdate{WAMID: "wamid-1", Status: notifier.StatusDelivered, At: time.Now()})
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx2"}, outbox.EraseContact("SHP-1")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.RecordReply(n.Phone, "", time.Now()); ok {
		t.Error("a reply matched an erased buyer's message")
	}
}
