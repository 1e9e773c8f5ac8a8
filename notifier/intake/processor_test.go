package intake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/intake"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/shipment"
)

// contacts answers per shipment; a shipment without an entry has none.
type contacts struct {
	mu  sync.Mutex
	by  map[string]notifier.Contact
	err map[string]error
}

func (c *contacts) BuyerContact(_ context.Context, id string) (notifier.Contact, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.err[id]; err != nil {
		return notifier.Contact{}, err
	}
	if ct, ok := c.by[id]; ok {
		return ct, nil
	}
	return notifier.Contact{}, notifier.ErrNoContact
}

func (c *contacts) set(id string, ct notifier.Contact, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.err, id)
	delete(c.by, id)
	if err != nil {
		c.err[id] = err
	} else {
		c.by[id] = ct
	}
}

func processor(t *testing.T, c *contacts) (*intake.Processor, *outbox.Store) {
	t.Helper()
	st, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := template.New(map[string]template.Spec{"shipped": {Name: "shipment_shipped", Languages: []string{"en"}, Params: template.Params{Body: []string{"{{.Event.ShipmentID}}"}}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := decide.New(decide.Config{ExporterMSP: "ExporterMSP", Rules: []decide.Rule{{Event: notifier.EventShipped, To: notifier.RoleBuyer, Template: "shipped"}}}, r)
	if err != nil {
		t.Fatal(err)
	}
	return &intake.Processor{Decider: d, Contacts: c, Store: st, Log: slog.New(slog.DiscardHandler),
		RetryBackoffMin: 20 * time.Millisecond, RetryBackoffMax: 40 * time.Millisecond, RetryAttempts: 3}, st
}

func chainEvent(block uint64, shipmentID string, at time.Time) notifier.ChainEvent {
	payload, _ := json.Marshal(shipment.Event{Version: 1, Type: shipment.EventShipped, ShipmentID: shipmentID, Exporter: "ExporterMSP", Time: at})
	return notifier.ChainEvent{Block: block, TxID: fmt.Sprintf("tx-%d-%s", block, shipmentID), Name: string(shipment.EventShipped), Payload: payload}
}

func buyer(n int) notifier.Contact {
	return notifier.Contact{Phone: fmt.Sprintf("+3460000000%d", n), Language: "en", Consent: true}
}

// refused is a per-shipment error: the contract refuses this one lookup.
var refused = fmt.Errorf("evaluate BuyerContact: %w", shipment.Errorf(shipment.Forbidden, "corrupt record"))

func notes(t *testing.T, st *outbox.Store, id string) []notifier.Notification {
	t.Helper()
	ns, err := st.ByShipment(id)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func runRetries(t *testing.T, p *intake.Processor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.RunRetries(ctx); close(done) }()
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

func TestOneEventsLookupErrorDoesNotBlockTheOthers(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{"GOOD": buyer(1)}, err: map[string]error{"BAD": refused}}
	p, st := processor(t, c)
	now := time.Now()
	batch := []notifier.ChainEvent{chainEvent(1, "BAD", now), chainEvent(2, "GOOD", now)}
	if err := p.HandleBatch(t.Context(), batch); err != nil {
		t.Fatalf("one event's lookup error failed the batch: %v", err)
	}
	if ns := notes(t, st, "GOOD"); len(ns) != 1 || ns[0].Status != notifier.StatusQueued {
		t.Errorf("the good event's notification: %+v", ns)
	}
	if cp, _ := st.Checkpoint(); cp.TxID != batch[1].TxID {
		t.Errorf("checkpoint %+v did not move past the batch", cp)
	}
}

func TestAnUnavailableContactSourceStillHoldsTheBatch(t *testing.T) {
	down := fmt.Errorf("peer down: %w", notifier.ErrContactsUnavailable)
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{"A": down}}
	p, st := processor(t, c)
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "A", time.Now())}); !errors.Is(err, notifier.ErrContactsUnavailable) {
		t.Fatalf("err = %v, want the batch held while the peer is down", err)
	}
	if cp, _ := st.Checkpoint(); !cp.IsZero() {
		t.Errorf("checkpoint moved to %+v while the peer was down", cp)
	}
}

func TestASetAsideEventIsRecordedWhenItsLookupRecovers(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{"BAD": refused}}
	p, st := processor(t, c)
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "BAD", time.Now())}); err != nil {
		t.Fatal(err)
	}
	runRetries(t, p)
	time.Sleep(30 * time.Millisecond)
	c.set("BAD", buyer(2), nil)
	eventually(t, 5*time.Second, "the set-aside event recorded", func() bool { return len(notes(t, st, "BAD")) == 1 })
	if ns := notes(t, st, "BAD"); ns[0].Status != notifier.StatusQueued {
		t.Errorf("recovered event: %s %q", ns[0].Status, ns[0].Reason)
	}
	eventually(t, 5*time.Second, "the event no longer listed", func() bool { ps, _ := st.DeadLetters(); return len(ps) == 0 })
}

func TestAPoisonEventBecomesADeadLetterListedForTheOperator(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{"GOOD": buyer(1)}, err: map[string]error{"BAD": refused}}
	p, st := processor(t, c)
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "BAD", time.Now()), chainEvent(2, "GOOD", time.Now())}); err != nil {
		t.Fatal(err)
	}
	runRetries(t, p)
	eventually(t, 5*time.Second, "a dead letter", func() bool {
		ps, _ := st.DeadLetters()
		return len(ps) == 1 && ps[0].Dead
	})
	ps, _ := st.DeadLetters()
	if ps[0].Attempts != 3 || ps[0].Shipment != "BAD" || ps[0].Reason != intake.ReasonLookupFailed || !strings.Contains(ps[0].Error, "corrupt record") {
		t.Errorf("dead letter %+v", ps[0])
	}
	srv := httptest.NewServer(intake.DeadLetterHandler(st, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Dead   int `json:"dead"`
		Events []struct {
			TxID, ShipmentID, Reason string
			Dead                     bool
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Dead != 1 || len(body.Events) != 1 || body.Events[0].ShipmentID != "BAD" || !body.Events[0].Dead {
		t.Errorf("listing %+v", body)
	}
	if len(notes(t, st, "GOOD")) != 1 {
		t.Error("the good event was held back by the poison one")
	}
}

func TestNotFoundForARecentEventIsLookedUpAgain(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{}}
	p, st := processor(t, c)
	// The private data has not reached this peer yet.
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "NEW", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if ns := notes(t, st, "NEW"); len(ns) != 0 {
		t.Fatalf("a recent event without a contact yet was settled at once: %s %q", ns[0].Status, ns[0].Reason)
	}
	runRetries(t, p)
	time.Sleep(50 * time.Millisecond)
	c.set("NEW", buyer(3), nil)
	eventually(t, 5*time.Second, "the notification recorded", func() bool { return len(notes(t, st, "NEW")) == 1 })
	if ns := notes(t, st, "NEW"); ns[0].Status != notifier.StatusQueued {
		t.Errorf("notification %s %q, want queued", ns[0].Status, ns[0].Reason)
	}
}

func TestNotFoundIsSkippedOnceTheGracePeriodIsOver(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{}}
	p, st := processor(t, c)
	p.ContactGrace = 100 * time.Millisecond
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "OLD", time.Now().Add(-time.Hour)), chainEvent(2, "NEW", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if ns := notes(t, st, "OLD"); len(ns) != 1 || ns[0].Reason != decide.ReasonNoContact {
		t.Errorf("an hour-old event without a contact: %+v", ns)
	}
	runRetries(t, p)
	eventually(t, 5*time.Second, "the recent event skipped after the grace period", func() bool {
		ns := notes(t, st, "NEW")
		return len(ns) == 1 && ns[0].Reason == decide.ReasonNoContact
	})
	// The retry records the notification, then forgets the parked event.
	eventually(t, 5*time.Second, "no event left set aside after NOT_FOUND", func() bool {
		ps, err := st.DeadLetters()
		return err == nil && len(ps) == 0
	})
}
