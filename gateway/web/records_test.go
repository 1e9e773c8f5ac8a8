package web_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/tracklink"
)

// reads counts the record reads the fake ledger served.
func (f *fakeLedger) reads() int {
	n := 0
	for _, c := range f.Calls() {
		if c == "exporter ReadShipment" {
			n++
		}
	}
	return n
}

// follow runs the page's event follower on a feed the test controls and
// waits until it follows.
func follow(t *testing.T, h *harness) chan<- string {
	t.Helper()
	feed := make(chan string)
	subscribed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.pages.Follow(ctx, func(context.Context) (<-chan string, error) {
			close(subscribed)
			return feed, nil
		}, time.Hour)
	}()
	t.Cleanup(func() { cancel(); close(feed); <-done })
	<-subscribed
	return feed
}

// TestUnchangedShipmentIsNotReadAgain: while the page follows the
// contract's events, views of a shipment nothing has changed read the
// ledger once; an event naming it makes the next view read again, and an
// erasure's event makes the link stop working.
func TestUnchangedShipmentIsNotReadAgain(t *testing.T) {
	h := newHarness(t, breachedShipment(2, 50))
	tok := h.token(t, tracklink.Claims{ShipmentID: shipID})
	feed := follow(t, h)
	time.Sleep(50 * time.Millisecond) // the follower has marked itself up
	for range 5 {
		if r := h.get(t, "/track/"+tok); r.status != http.StatusOK {
			t.Fatalf("view: %d", r.status)
		}
	}
	if n := h.ledger.reads(); n != 1 {
		t.Fatalf("5 views of an unchanged shipment read its record %d times, want 1", n)
	}
	feed <- "SOME-OTHER-SHIPMENT"
	h.get(t, "/track/"+tok)
	if n := h.ledger.reads(); n != 1 {
		t.Fatalf("another shipment's event made the page read this one again (%d reads)", n)
	}
	h.ledger.mu.Lock()
	h.ledger.record.HasBuyerContact = false // DeleteBuyerContact commits...
	h.ledger.mu.Unlock()
	feed <- shipID // ...and its contact.deleted event arrives
	time.Sleep(50 * time.Millisecond)
	if r := h.get(t, "/track/"+tok); r.status != http.StatusNotFound {
		t.Fatalf("after the erasure's event: %d, want 404", r.status)
	}
}

// TestWithoutEventsEveryViewReads: before the follower runs, and after its
// stream ends, the page cannot know what changed, so it reads every time.
func TestWithoutEventsEveryViewReads(t *testing.T) {
	h := newHarness(t, breachedShipment(2, 50))
	tok := h.token(t, tracklink.Claims{ShipmentID: shipID})
	h.get(t, "/track/"+tok)
	h.get(t, "/track/"+tok)
	if n := h.ledger.reads(); n != 2 {
		t.Fatalf("not following: 2 views read %d times, want 2", n)
	}

	feed := make(chan string)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribed := make(chan int, 4)
	go h.pages.Follow(ctx, func(context.Context) (<-chan string, error) {
		subscribed <- 1
		return feed, nil
	}, time.Hour)
	<-subscribed
	time.Sleep(50 * time.Millisecond)
	h.get(t, "/track/"+tok)
	h.get(t, "/track/"+tok)
	if n := h.ledger.reads(); n != 3 {
		t.Fatalf("following: %d reads in all, want 3", n)
	}
	close(feed) // the peer ends the stream
	time.Sleep(50 * time.Millisecond)
	h.get(t, "/track/"+tok)
	h.get(t, "/track/"+tok)
	if n := h.ledger.reads(); n != 5 {
		t.Fatalf("after the stream ended: %d reads in all, want 5 (every view reads)", n)
	}
}

// TestChangedByTheGatewayItselfIsReadAgain: Changed, which the gateway
// calls when its own write commits, drops the copy before any event.
func TestChangedByTheGatewayItselfIsReadAgain(t *testing.T) {
	h := newHarness(t, breachedShipment(2, 50))
	tok := h.token(t, tracklink.Claims{ShipmentID: shipID})
	follow(t, h)
	time.Sleep(50 * time.Millisecond)
	h.get(t, "/track/"+tok)
	h.pages.Changed(shipID)
	h.get(t, "/track/"+tok)
	if calls := h.ledger.Calls(); h.ledger.reads() != 2 {
		t.Fatalf("after Changed: %d record reads, want 2 (%v)", h.ledger.reads(), slices.Compact(calls))
	}
}

// TestARecordReadJustAfterItsChangeIsNotKept: right after an event names a
// shipment, another peer of the organisation may not have the event's
// block yet; what a read returns then is served but not kept, so a record
// a lagging peer returned (a contact already erased) cannot stay cached.
func TestARecordReadJustAfterItsChangeIsNotKept(t *testing.T) {
	h := newHarness(t, breachedShipment(2, 50))
	tok := h.token(t, tracklink.Claims{ShipmentID: shipID})
	feed := follow(t, h)
	time.Sleep(50 * time.Millisecond)
	h.get(t, "/track/"+tok)
	feed <- shipID
	time.Sleep(50 * time.Millisecond)
	h.get(t, "/track/"+tok)
	h.get(t, "/track/"+tok)
	if n := h.ledger.reads(); n != 3 {
		t.Fatalf("views right after the shipment's event: %d reads in all, want 3 (none kept while the peers settle)", n)
	}
}
