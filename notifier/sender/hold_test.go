package sender_test

import (
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/policy"
	"github.com/shiptrace/shiptrace/notifier/sender"
)

// TestQuietHoursHoldADueMessageAtSend: a message that becomes due inside
// its recipient's quiet hours (a retry, a pause) is held until they end;
// an urgent one goes.
func TestQuietHoursHoldADueMessageAtSend(t *testing.T) {
	madrid, _ := time.LoadLocation("Europe/Madrid")
	local := time.Now().In(madrid)
	s, e, _ := policy.ParseQuietHours(local.Add(-time.Hour).Format("15:04") + "-" + local.Add(2*time.Hour).Format("15:04"))
	pol := policy.New(policy.Config{QuietStart: s, QuietEnd: e, Urgent: []string{notifier.EventColdChainBreached}})

	st := openStore(t)
	p := &fakeProvider{}
	cfg := fast()
	cfg.Hold = pol.Hold
	routine := buyerNote("tx1", "+34600000001")
	urgent := buyerNote("tx2", "+34600000001")
	urgent.EventType = notifier.EventColdChainBreached
	urgent.ID = notifier.NotificationID("tx2", notifier.EventColdChainBreached, notifier.RoleBuyer)
	urgent.Message.CallbackData = urgent.ID
	queue(t, st, routine, urgent)
	run(t, sender.New(cfg, st, p, quiet, nil))

	eventually(t, 5*time.Second, "the urgent message sent", func() bool { return status(t, st, urgent.ID).Status == notifier.StatusSent })
	time.Sleep(100 * time.Millisecond)
	n := status(t, st, routine.ID)
	if n.Status != notifier.StatusQueued || n.NextAt.Before(time.Now().Add(time.Hour)) || p.count() != 1 {
		t.Errorf("routine message %s, next at %v, %d sends; want held until the quiet hours end (~2 h)", n.Status, n.NextAt, p.count())
	}
}
