package contacts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shiptrace/shiptrace/notifier"
)

// counting is a contact source that counts its reads and can run a hook
// between reading and answering (a Forget that lands mid-read).
type counting struct {
	mu     sync.Mutex
	by     map[string]notifier.Contact
	reads  int
	during func()
}

func (c *counting) BuyerContact(_ context.Context, id string) (notifier.Contact, error) {
	c.mu.Lock()
	c.reads++
	ct, ok := c.by[id]
	during := c.during
	c.mu.Unlock()
	if during != nil {
		during()
	}
	if !ok {
		return notifier.Contact{}, notifier.ErrNoContact
	}
	return ct, nil
}

func TestCacheReadsOnceUntilForgotten(t *testing.T) {
	src := &counting{by: map[string]notifier.Contact{"S1": {Phone: "+4915112345678"}}}
	c := &Cache{Source: src}
	for range 3 {
		if ct, err := c.BuyerContact(t.Context(), "S1"); err != nil || ct.Phone != "+4915112345678" {
			t.Fatalf("lookup: %+v, %v", ct, err)
		}
	}
	if src.reads != 1 {
		t.Fatalf("%d reads for three lookups, want 1", src.reads)
	}
	src.by["S1"] = notifier.Contact{Phone: "+4915199999999"}
	c.Forget("S1")
	if ct, _ := c.BuyerContact(t.Context(), "S1"); ct.Phone != "+4915199999999" || src.reads != 2 {
		t.Fatalf("after Forget: %+v after %d reads, want the new number read again", ct, src.reads)
	}
}

func TestCacheKeepsNoAbsentContact(t *testing.T) {
	src := &counting{by: map[string]notifier.Contact{}}
	c := &Cache{Source: src}
	if _, err := c.BuyerContact(t.Context(), "S1"); !errors.Is(err, notifier.ErrNoContact) {
		t.Fatalf("err %v, want ErrNoContact", err)
	}
	src.by["S1"] = notifier.Contact{Phone: "+4915112345678"} // set in the next block
	if ct, err := c.BuyerContact(t.Context(), "S1"); err != nil || ct.Phone == "" {
		t.Fatalf("after the contact was set: %+v, %v", ct, err)
	}
}

// TestCacheDoesNotKeepAReadAForgetCrossed: a contact read while a Forget
// (an erasure) happened is answered but not kept, so the erased number
// does not stay in memory.
func TestCacheDoesNotKeepAReadAForgetCrossed(t *testing.T) {
	src := &counting{by: map[string]notifier.Contact{"S1": {Phone: "+4915112345678"}}}
	c := &Cache{Source: src}
	src.during = func() { c.Forget("S1") }
	if _, err := c.BuyerContact(t.Context(), "S1"); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("the cache kept a contact read across a Forget")
	}
}

func TestCacheIsBounded(t *testing.T) {
	src := &counting{by: map[string]notifier.Contact{}}
	for i := range 10 {
		src.by[fmt.Sprint(i)] = notifier.Contact{Phone: fmt.Sprintf("+49151000000%02d", i)}
	}
	c := &Cache{Source: src, Size: 4}
	for i := range 10 {
		if _, err := c.BuyerContact(t.Context(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 4 {
		t.Fatalf("holds %d contacts, want at most 4", c.Len())
	}
	reads := src.reads
	if _, err := c.BuyerContact(t.Context(), "9"); err != nil || src.reads != reads {
		t.Fatalf("the most recent contact was evicted (%d reads, then %d)", reads, src.reads)
	}
	if _, err := c.BuyerContact(t.Context(), "0"); err != nil || src.reads != reads+1 {
		t.Fatalf("the oldest contact was not evicted")
	}
}
