package outbox_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// metaWAMID is a message ID shaped like Meta's: base64 of a record that
// starts with the recipient's number ("HBgLMzQ2MTEyMjMzNDQ" holds
// 34611223344). Here the digits are spelled out so a scan can see them.
const metaWAMID = "wamid.34611223344-VAgARGBI5QTNDQTVC"

func TestEraseContactRemovesEveryPersonalFieldAndKeepsStatuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	defer st.Close()
	sent := rendered("tx1", "+34611223344", "Zoraida", notifier.StatusQueued)
	queued := rendered("tx2", "+34611223344", "Zoraida", notifier.StatusQueued)
	queued.NextAt = time.Now().Add(time.Hour) // not due yet
	ops := note("tx3")
	ops.Recipient, ops.ID, ops.Phone = notifier.RoleOps, notifier.NotificationID("tx3", "coldchain.breached", "ops"), "+4930000000"
	other := rendered("tx4", "+34655667788", "Eustaquio", notifier.StatusQueued)
	other.ShipmentID = "SHP-2"
	other.NextAt = queued.NextAt
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(sent))
	c, _ := st.Claim(1, nil)
	st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: metaWAMID, At: time.Now()})
	st.ApplyStatus(outbox.StatusUpdate{WAMID: metaWAMID, Status: notifier.StatusRead, At: time.Now()})
	st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx4"}, plan(queued, ops, other))

	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 3, TxID: "tx5"}, outbox.EraseContact("SHP-1")); err != nil {
		t.Fatal(err)
	}
	if cp, _ := st.Checkpoint(); cp.TxID != "tx5" {
		t.Errorf("checkpoint %s after the erasure, want tx5", cp.TxID)
	}
	want := map[string]notifier.Status{sent.ID: notifier.StatusRead, queued.ID: notifier.StatusSkipped}
	for id, status := range want {
		n, _ := st.Get(id)
		if n.Status != status || n.ErasedAt.IsZero() {
			t.Errorf("%s: %s erased at %s, want %s and erased", id, n.Status, n.ErasedAt, status)
		}
		if n.Phone != "" || n.Message.To != "" || n.Message.Components != nil || n.Message.Language != "" || n.WAMID != "" {
			t.Errorf("%s keeps personal data after erasure: %+v", id, n)
		}
		if n.PhoneRef != refKey.PhoneRef("+34611223344") {
			t.Errorf("%s lost its phone reference %q", id, n.PhoneRef)
		}
	}
	if n, _ := st.Get(queued.ID); n.Reason != outbox.ReasonContactDeleted {
		t.Errorf("queued notification of an erased contact: reason %q", n.Reason)
	}
	if n, _ := st.Get(ops.ID); n.Phone == "" || !n.ErasedAt.IsZero() {
		t.Error("the operations alert was erased with the buyer's contact")
	}
	if n, _ := st.Get(other.ID); n.Phone == "" {
		t.Error("another shipment's notification was erased")
	}
	// A late webhook still finds the erased message by its callback data,
	// and leaves no message ID behind.
	_, after, known, _ := st.ApplyStatus(outbox.StatusUpdate{WAMID: metaWAMID, CallbackData: sent.ID, Status: notifier.StatusFailed, At: time.Now()})
	if !known || after.WAMID != "" {
		t.Errorf("late webhook after erasure: found %v, wamid %q", known, after.WAMID)
	}
	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	logical, raw := found(t, path, append(phoneForms("+34611223344", 2), "Zoraida", metaWAMID)...)
	if len(logical)+len(raw) > 0 {
		t.Errorf("after erasure the store holds %v in its records and %v in the file", logical, raw)
	}
	if logical, _ := found(t, path, "34655667788", "Eustaquio"); len(logical) != 2 {
		t.Errorf("another shipment's contact is gone: only %v left", logical)
	}
}

func TestErasedNotificationRequeuedByItsAttemptIsNotSent(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "o.db"))
	defer st.Close()
	n := rendered("tx1", "+34611223344", "Zoraida", notifier.StatusQueued)
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(n))
	c, _ := st.Claim(1, nil) // in flight while the contact is erased
	st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx2"}, outbox.EraseContact("SHP-1"))
	if got, _ := st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusQueued, NextAt: time.Now(), At: time.Now(), Code: 131000}); got.Phone != "" {
		t.Errorf("the attempt's outcome wrote the number back: %+v", got)
	}
	if again, _ := st.Claim(1, nil); len(again) != 0 {
		t.Fatalf("an erased notification was claimed for sending: %+v", again[0])
	}
	if got, _ := st.Get(n.ID); got.Status != notifier.StatusSkipped || got.Reason != outbox.ReasonContactDeleted {
		t.Errorf("erased retry: %s %q, want skipped %s", got.Status, got.Reason, outbox.ReasonContactDeleted)
	}
}

func TestErasedDataLingersInFreedPagesUntilCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(rendered("tx1", "+34611223344", "Zoraida", notifier.StatusQueued)))
	st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx2"}, outbox.EraseContact("SHP-1"))
	select {
	case <-st.CompactionWanted():
	default:
		t.Error("an erasure did not ask for a rewrite of the file")
	}
	st.Close() // stopped before the rewrite: the next start must catch up
	logical, raw := found(t, path, "Zoraida")
	if len(logical) > 0 || len(raw) == 0 {
		t.Fatalf("before the rewrite: %v in records (want none), %v in the file (bbolt keeps freed pages)", logical, raw)
	}
	st = open(t, path)
	select {
	case <-st.CompactionWanted():
	default:
		t.Fatal("reopened store does not ask for the rewrite the last run missed")
	}
	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, raw := found(t, path, "Zoraida"); len(raw) > 0 {
		t.Errorf("after the rewrite the file still holds %v", raw)
	}
	st = open(t, path)
	if n, err := st.Get(notifier.NotificationID("tx1", "shipment.shipped", "buyer")); err != nil || n.Status != notifier.StatusSkipped {
		t.Errorf("after the rewrite: %+v, %v", n, err)
	}
	select {
	case <-st.CompactionWanted():
		t.Error("a rewritten store asks for another rewrite at start")
	default:
	}
	st.Close()
}

// What the consent side keeps of a buyer agrees with erasure: after
// contact.deleted the file holds neither the number (in any form), nor the
// wa_id WhatsApp reported for it, nor any message ID — of the attempt that
// failed and was retried, of the one delivered, or of the buyer's STOP —
// while the STOP, filed under keyed references, still holds for the
// number if the exporter records it again.
func TestErasureLeavesConsentUnderKeyedReferencesOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	defer st.Close()
	number, waID := "+4915112345678", "4915187654321" // the account's wa_id differs from the number
	first, second := "wamid.4915112345678-first", "wamid.4915112345678-second"
	stopID := "wamid.4915187654321-stop"
	n := rendered("tx1", number, "Zoraida", notifier.StatusQueued)
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(n))
	c, _ := st.Claim(1, nil)
	st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: first, At: time.Now()})
	// WhatsApp reports the first attempt failed with a retryable code.
	if _, requeued, err := st.RequeueFailed(outbox.StatusUpdate{WAMID: first, CallbackData: n.ID, Status: notifier.StatusFailed, Code: 131000}, time.Now(), 10); err != nil || !requeued {
		t.Fatalf("failed attempt not requeued: %v", err)
	}
	c, _ = st.Claim(1, nil)
	if len(c) != 1 {
		t.Fatal("requeued notification not claimed")
	}
	st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: second, At: time.Now()})
	if err := st.LinkWAID(number, waID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: waID, OptOut: true, Word: "STOP", MessageID: stopID, At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx2"}, outbox.EraseContact("SHP-1")); err != nil {
		t.Fatal(err)
	}
	// A late retryable failure of the erased message sends nothing again.
	if _, requeued, _ := st.RequeueFailed(outbox.StatusUpdate{WAMID: second, CallbackData: n.ID, Status: notifier.StatusFailed, Code: 131000}, time.Now(), 10); requeued {
		t.Error("a message of an erased contact was put back in the queue")
	}
	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	if out, _ := st.OptedOut(number); !out {
		t.Error("the erasure lost the STOP the wa_id sent for the number")
	}
	st.Close()
	needles := append(phoneForms(number, 2), waID, waID[2:], "Zoraida", first, second, stopID)
	if logical, raw := found(t, path, needles...); len(logical)+len(raw) > 0 {
		t.Errorf("after erasure the store holds %v in its records and %v in the file", logical, raw)
	}
}
