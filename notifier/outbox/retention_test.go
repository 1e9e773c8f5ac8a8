package outbox_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

func TestPurgeDeletesSettledNotificationsPastRetentionOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := now.Add(-100 * 24 * time.Hour)
	st := open(t, path, outbox.WithClock(func() time.Time { return clock }))

	old := rendered("tx1", "+34611223344", "Zoraida", notifier.StatusQueued)
	old.EventTime = clock
	oldSkipped := rendered("tx2", "+34611223344", "Zoraida", notifier.StatusSkipped)
	owed := rendered("tx3", "+34655667788", "Eustaquio", notifier.StatusQueued) // still owed after 100 days (sending paused)
	owed.NextAt = now.Add(time.Hour)
	st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx3"}, plan(old, oldSkipped, owed))
	c, _ := st.Claim(1, nil)
	st.Finish(outbox.Result{ID: c[0].ID, Status: notifier.StatusSent, WAMID: metaWAMID, At: clock})

	clock = now.Add(-10 * 24 * time.Hour)
	recent := rendered("tx4", "+34699887766", "Reciente", notifier.StatusSkipped)
	st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx4"}, plan(recent))

	clock = now
	n, err := st.Purge(now.Add(-90 * 24 * time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("purge: %d deleted, %v; want the 2 settled notifications older than 90 days", n, err)
	}
	for _, id := range []string{old.ID, oldSkipped.ID} {
		if _, err := st.Get(id); err == nil {
			t.Errorf("%s outlived the retention period", id)
		}
	}
	for _, id := range []string{owed.ID, recent.ID} {
		if _, err := st.Get(id); err != nil {
			t.Errorf("%s was purged: %v", id, err)
		}
	}
	if ns, _ := st.ByShipment("SHP-1"); len(ns) != 2 {
		t.Errorf("the shipment index lists %d notifications, want the 2 kept", len(ns))
	}
	var oldCap int
	st.Record(t.Context(), notifier.Checkpoint{Block: 3, TxID: "tx5"}, func(v outbox.View) []notifier.Notification {
		oldCap = v.SentOnDay("+34611223344", old.EventTime)
		return nil
	})
	if oldCap != 0 {
		t.Errorf("the daily cap of a day 100 days ago is kept (%d)", oldCap)
	}
	if err := st.Compact(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	logical, raw := found(t, path, append(phoneForms("+34611223344", 2), "Zoraida", metaWAMID)...)
	if len(logical)+len(raw) > 0 {
		t.Errorf("after purge and rewrite the store holds %v in its records, %v in the file", logical, raw)
	}
}
