package sender_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/sender"
)

// fakeProvider answers each send with fn and records what it was given.
type fakeProvider struct {
	mu    sync.Mutex
	calls []notifier.Message
	fn    func(n int, msg notifier.Message) (notifier.SendResult, error)
}

func (p *fakeProvider) Send(_ context.Context, msg notifier.Message) (notifier.SendResult, error) {
	p.mu.Lock()
	p.calls = append(p.calls, msg)
	n := len(p.calls)
	p.mu.Unlock()
	if p.fn == nil {
		return notifier.SendResult{MessageID: "wamid.ok"}, nil
	}
	return p.fn(n, msg)
}

func (p *fakeProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// fakeContacts is a hand-written contact source.
type fakeContacts struct {
	mu      sync.Mutex
	contact notifier.Contact
	err     error
}

func (f *fakeContacts) BuyerContact(context.Context, string) (notifier.Contact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.contact, f.err
}

func openStore(t *testing.T) *outbox.Store {
	t.Helper()
	st, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func buyerNote(tx, number string) notifier.Notification {
	id := notifier.NotificationID(tx, notifier.EventShipped, notifier.RoleBuyer)
	return notifier.Notification{ID: id, TxID: tx, EventType: notifier.EventShipped, Recipient: notifier.RoleBuyer, ShipmentID: "SHP-" + tx,
		Phone: number, Status: notifier.StatusQueued, EventTime: time.Now(),
		Message: notifier.Message{To: number, Template: "shipment_shipped", Language: "en", CallbackData: id}}
}

func queue(t *testing.T, st *outbox.Store, ns ...notifier.Notification) {
	t.Helper()
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: ns[len(ns)-1].TxID}, func(outbox.View) []notifier.Notification { return ns }); err != nil {
		t.Fatal(err)
	}
}

// run starts s and stops it when the test ends.
func run(t *testing.T, s *sender.Sender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(t *testing.T, st *outbox.Store, id string) notifier.Notification {
	t.Helper()
	n, err := st.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var quiet = slog.New(slog.DiscardHandler)

func fast() sender.Config {
	return sender.Config{Workers: 2, RatePerSecond: 1000, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		ReconcileWindow: 50 * time.Millisecond, PauseRetry: 50 * time.Millisecond, IdlePoll: 10 * time.Millisecond, MaxAttempts: 5}
}

func TestConsentIsCheckedAgainAtSend(t *testing.T) {
	tests := []struct {
		name    string
		contact notifier.Contact
		err     error
		reason  string
	}{
		{"consent withdrawn after queueing", notifier.Contact{Phone: "+34600000001", Consent: false}, nil, "no_consent"},
		{"contact erased after queueing", notifier.Contact{}, notifier.ErrNoContact, "no_contact"},
		{"number changed after queueing", notifier.Contact{Phone: "+34600000002", Consent: true}, nil, "contact_changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			p := &fakeProvider{}
			cfg := fast()
			cfg.Consent = sender.ContactConsent{Contacts: &fakeContacts{contact: tt.contact, err: tt.err}}
			n := buyerNote("tx1", "+34600000001")
			queue(t, st, n)
			run(t, sender.New(cfg, st, p, quiet, nil))
			eventually(t, 5*time.Second, "the notification settled", func() bool { return status(t, st, n.ID).Status.Terminal() })
			got := status(t, st, n.ID)
			if got.Status != notifier.StatusSkipped || got.Reason != tt.reason {
				t.Errorf("notification %s %q, want skipped %q", got.Status, got.Reason, tt.reason)
			}
			if p.count() != 0 {
				t.Errorf("%d messages sent", p.count())
			}
		})
	}
}

func TestConsentLookupFailureHoldsTheMessageWithoutSending(t *testing.T) {
	st := openStore(t)
	p := &fakeProvider{}
	contacts := &fakeContacts{err: errors.New("peer unavailable")}
	cfg := fast()
	cfg.Consent = sender.ContactConsent{Contacts: contacts}
	n := buyerNote("tx1", "+34600000001")
	queue(t, st, n)
	run(t, sender.New(cfg, st, p, quiet, nil))
	time.Sleep(200 * time.Millisecond)
	if p.count() != 0 || status(t, st, n.ID).Status.Terminal() {
		t.Fatalf("sent %d while consent could not be checked; status %s", p.count(), status(t, st, n.ID).Status)
	}
	contacts.mu.Lock()
	contacts.contact, contacts.err = notifier.Contact{Phone: "+34600000001", Consent: true}, nil
	contacts.mu.Unlock()
	eventually(t, 5*time.Second, "sent once the peer answers", func() bool { return status(t, st, n.ID).Status == notifier.StatusSent })
	if p.count() != 1 {
		t.Errorf("%d sends, want 1", p.count())
	}
}

func TestWaIDFromTheSendResponseLinksTheNumbersOptOut(t *testing.T) {
	st := openStore(t)
	p := &fakeProvider{fn: func(int, notifier.Message) (notifier.SendResult, error) {
		return notifier.SendResult{MessageID: "wamid.1", WaID: "4915199999999"}, nil
	}}
	n := buyerNote("tx1", "+4915112345678")
	queue(t, st, n)
	run(t, sender.New(fast(), st, p, quiet, nil))
	eventually(t, 5*time.Second, "sent", func() bool { return status(t, st, n.ID).Status == notifier.StatusSent })
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: "4915199999999", OptOut: true, MessageID: "wamid.in", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if out, _ := st.OptedOut("+4915112345678"); !out {
		t.Error("a STOP from the wa_id of the send response did not opt out the number sent to")
	}
}

// TestConsentOfAFreshMessageAsksTheIntakesCache: a message recorded a
// moment ago is checked against Recent (the intake's contact cache), an
// older one against the ledger. Here the two disagree, so the outcome
// shows which one was asked.
func TestConsentOfAFreshMessageAsksTheIntakesCache(t *testing.T) {
	withdrawn := &fakeContacts{contact: notifier.Contact{Phone: "+34600000001", Consent: false}}
	current := &fakeContacts{contact: notifier.Contact{Phone: "+34600000001", Consent: true}}
	for _, tt := range []struct {
		name string
		age  time.Duration
		want notifier.Status
	}{
		{"recorded just now: the cache says yes", 0, notifier.StatusSent},
		{"recorded a minute ago: the ledger says no", time.Minute, notifier.StatusSkipped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			p := &fakeProvider{}
			cfg := fast()
			now := func() time.Time { return time.Now().Add(tt.age) }
			cfg.Consent = sender.ContactConsent{Contacts: withdrawn, Recent: current, FreshFor: 30 * time.Second, Now: now}
			n := buyerNote("tx1", "+34600000001")
			queue(t, st, n)
			run(t, sender.New(cfg, st, p, quiet, nil))
			eventually(t, 5*time.Second, "the notification settled", func() bool { return status(t, st, n.ID).Status.Terminal() })
			if got := status(t, st, n.ID); got.Status != tt.want {
				t.Errorf("notification %s %q, want %s", got.Status, got.Reason, tt.want)
			}
		})
	}
}
