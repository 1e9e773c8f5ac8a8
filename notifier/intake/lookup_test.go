package intake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	contactcache "github.com/shiptrace/shiptrace/notifier/contacts"
	"github.com/shiptrace/shiptrace/shipment"
)

// slowContacts answers like contacts after a delay; for a shipment in hold
// it reads the answer at once but returns it only once the test closes the
// channel (a peer's reply in flight). It counts the reads.
type slowContacts struct {
	*contacts
	delay time.Duration
	hold  map[string]chan struct{}
	reads atomic.Int64
}

func (s *slowContacts) BuyerContact(ctx context.Context, id string) (notifier.Contact, error) {
	s.reads.Add(1)
	ct, err := s.contacts.BuyerContact(ctx, id)
	if ch, ok := s.hold[id]; ok {
		select {
		case <-ch:
		case <-ctx.Done():
			return notifier.Contact{}, ctx.Err()
		}
	}
	time.Sleep(s.delay)
	return ct, err
}

func contactEvent(block uint64, typ shipment.EventType, shipmentID string) notifier.ChainEvent {
	payload, _ := json.Marshal(shipment.Event{Version: 1, Type: typ, ShipmentID: shipmentID, Exporter: "ExporterMSP", Time: time.Now()})
	return notifier.ChainEvent{Block: block, TxID: fmt.Sprintf("tx-%d-%s-%s", block, typ, shipmentID), Name: string(typ), Payload: payload}
}

// TestABatchLooksItsContactsUpSideBySide: eight events whose lookups take
// 100 ms each are handled in about one lookup's time, not eight. One at a
// time, a block's events waited for each other's reads of the peer, and
// under load that was most of the notifier's latency.
func TestABatchLooksItsContactsUpSideBySide(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{}}
	var batch []notifier.ChainEvent
	for i := range 8 {
		id := fmt.Sprintf("S%d", i)
		c.by[id] = buyer(i)
		batch = append(batch, chainEvent(uint64(i+1), id, time.Now()))
	}
	slow := &slowContacts{contacts: c, delay: 100 * time.Millisecond}
	p, st := processor(t, c)
	p.Contacts = slow
	began := time.Now()
	if err := p.HandleBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 400*time.Millisecond {
		t.Errorf("a batch of 8 events with 100 ms lookups took %s: looked up one after another", took)
	}
	for i := range 8 {
		if ns := notes(t, st, fmt.Sprintf("S%d", i)); len(ns) != 1 {
			t.Fatalf("S%d: %d notifications, want 1", i, len(ns))
		}
	}
}

// TestARetryDoesNotHoldTheStream: a parked event's retry whose lookup
// hangs (a slow or stuck peer) does not keep the stream from recording the
// next blocks. Before, the retry held the processor's lock across its read.
func TestARetryDoesNotHoldTheStream(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{"NEXT": buyer(1)}, err: map[string]error{"STUCK": refused}}
	release := make(chan struct{})
	slow := &slowContacts{contacts: c, hold: map[string]chan struct{}{}}
	p, st := processor(t, c)
	p.Contacts = slow
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "STUCK", time.Now())}); err != nil {
		t.Fatal(err)
	}
	slow.hold["STUCK"] = release // from now on its lookup hangs
	defer close(release)
	runRetries(t, p)
	eventually(t, 5*time.Second, "the retry's lookup under way", func() bool { return slow.reads.Load() >= 2 })
	done := make(chan error, 1)
	go func() { done <- p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(2, "NEXT", time.Now())}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stream waited for a retry's hanging lookup")
	}
	if ns := notes(t, st, "NEXT"); len(ns) != 1 {
		t.Fatalf("NEXT: %d notifications, want 1", len(ns))
	}
}

// TestAContactChangedInTheBatchIsReadAfresh: with the contact cache, a
// batch that carries contact.updated and then an event of the same
// shipment sends to the new number, and a contact.deleted erases the
// cached copy so the next event finds no contact.
func TestAContactChangedInTheBatchIsReadAfresh(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{"X": buyer(1)}, err: map[string]error{}}
	cache := &contactcache.Cache{Source: c}
	p, st := processor(t, c)
	p.Contacts = cache
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "X", time.Now())}); err != nil {
		t.Fatal(err)
	}
	c.set("X", buyer(2), nil) // SetBuyerContact in block 2
	batch := []notifier.ChainEvent{contactEvent(2, shipment.EventContactUpdated, "X"), chainEvent(3, "X", time.Now())}
	batch[1].TxID = "tx-3-X-again"
	if err := p.HandleBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	ns := notes(t, st, "X")
	if len(ns) != 2 || ns[1].Phone != buyer(2).Phone {
		t.Fatalf("after contact.updated: %+v, want the second message to %s", ns, buyer(2).Phone)
	}
	c.set("X", notifier.Contact{}, notifier.ErrNoContact) // DeleteBuyerContact in block 4
	delete(c.by, "X")
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{contactEvent(4, shipment.EventContactDeleted, "X")}); err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 0 {
		t.Fatalf("the cache still holds %d contacts after contact.deleted", cache.Len())
	}
}

// TestARetryAcrossAnErasureRecordsNothing: a retry's lookup that reads the
// contact just before the stream records contact.deleted must not record a
// message with that contact after the erasure. The retry's lookup runs
// without the lock now, so the erasure can fall inside it.
func TestARetryAcrossAnErasureRecordsNothing(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{"X": refused}}
	release := make(chan struct{})
	slow := &slowContacts{contacts: c, hold: map[string]chan struct{}{}}
	p, st := processor(t, c)
	p.Contacts = slow
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "X", time.Now())}); err != nil {
		t.Fatal(err)
	}
	c.set("X", buyer(1), nil) // the lookup will now find the contact...
	slow.hold["X"] = release  // ...once released
	runRetries(t, p)
	eventually(t, 5*time.Second, "the retry's lookup under way", func() bool { return slow.reads.Load() >= 2 })
	// The erasure commits and reaches the stream while the lookup hangs.
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{contactEvent(2, shipment.EventContactDeleted, "X")}); err != nil {
		t.Fatal(err)
	}
	c.set("X", notifier.Contact{}, notifier.ErrNoContact)
	delete(c.by, "X")
	close(release)                     // the hung lookup returns the erased contact
	time.Sleep(300 * time.Millisecond) // several retry rounds
	for _, n := range notes(t, st, "X") {
		if n.Phone != "" {
			t.Fatalf("a message with the erased number was recorded after the erasure: %+v", n)
		}
	}
}

// TestContactUpdatedWarmsTheCache: the stream reads a contact when it sees
// it set, so the shipment's next event is decided without reading the
// peer on its own path.
func TestContactUpdatedWarmsTheCache(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{"X": buyer(1)}, err: map[string]error{}}
	slow := &slowContacts{contacts: c}
	cache := &contactcache.Cache{Source: slow}
	p, st := processor(t, c)
	p.Contacts = cache
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{contactEvent(1, shipment.EventContactUpdated, "X")}); err != nil {
		t.Fatal(err)
	}
	if slow.reads.Load() != 1 {
		t.Fatalf("%d reads on contact.updated, want 1", slow.reads.Load())
	}
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(2, "X", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if slow.reads.Load() != 1 || len(notes(t, st, "X")) != 1 {
		t.Fatalf("after shipped: %d reads and %d notifications, want 1 read in all and 1 notification", slow.reads.Load(), len(notes(t, st, "X")))
	}
}

// TestContactUpdatedWakesTheEventsWaitingForIt: an event parked because
// its shipment had no contact yet is recorded as soon as the stream meets
// that shipment's contact.updated, not at its next backoff (30 s here).
func TestContactUpdatedWakesTheEventsWaitingForIt(t *testing.T) {
	c := &contacts{by: map[string]notifier.Contact{}, err: map[string]error{}}
	p, st := processor(t, c)
	p.RetryBackoffMin, p.RetryBackoffMax = 30*time.Second, time.Minute
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{chainEvent(1, "X", time.Now()), chainEvent(1, "Y", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if ps, _ := st.DeadLetters(); len(ps) != 2 {
		t.Fatalf("%d events parked, want both", len(ps))
	}
	runRetries(t, p)
	c.set("X", buyer(1), nil)
	if err := p.HandleBatch(t.Context(), []notifier.ChainEvent{contactEvent(2, shipment.EventContactUpdated, "X")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "X's event recorded after its contact.updated", func() bool { return len(notes(t, st, "X")) == 1 })
	// The retry resolves X's parked record just after recording it.
	eventually(t, 2*time.Second, "X no longer parked", func() bool { ps, _ := st.DeadLetters(); return len(ps) == 1 })
	if ps, _ := st.DeadLetters(); ps[0].Shipment != "Y" || !ps[0].NextAt.After(time.Now().Add(10*time.Second)) {
		t.Fatalf("parked after the wake: %+v, want only Y, still waiting for its backoff", ps)
	}
}
