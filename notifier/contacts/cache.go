package contacts

import (
	"container/list"
	"context"
	"sync"

	"github.com/shiptrace/shiptrace/notifier"
)

// Cache keeps the buyer contacts the intake has read, in memory only, so
// the events of a shipment after the first (shipped, every hand-over,
// delivered) do not each read the exporter's peer again. Under load those
// reads were most of the notifier's latency: a loaded peer answers an
// evaluate in tens to hundreds of milliseconds, and the intake made one
// per event.
//
// A contact changes on the ledger only through SetBuyerContact and
// DeleteBuyerContact, which emit contact.updated and contact.deleted; the
// intake calls Forget for each, in ledger order, before it looks up any
// later event. So a cached contact is what a fresh read would return for
// every event the intake has reached. Forget also erases the copy: the
// cache never outlives an erasure. Nothing is written to disk, and "no
// contact" is never cached (the contact may be set by the next block).
type Cache struct {
	Source notifier.ContactSource
	// Size bounds the contacts kept (4096 when zero); the least recently
	// used one goes first.
	Size int

	mu    sync.Mutex
	byID  map[string]*list.Element
	lru   list.List // of cached, most recently used first
	epoch uint64    // counts Forget calls
}

type cached struct {
	shipment string
	contact  notifier.Contact
}

var _ notifier.ContactSource = (*Cache)(nil)

// BuyerContact implements notifier.ContactSource.
func (c *Cache) BuyerContact(ctx context.Context, shipmentID string) (notifier.Contact, error) {
	c.mu.Lock()
	if e, ok := c.byID[shipmentID]; ok {
		c.lru.MoveToFront(e)
		ct := e.Value.(*cached).contact
		c.mu.Unlock()
		return ct, nil
	}
	epoch := c.epoch
	c.mu.Unlock()

	ct, err := c.Source.BuyerContact(ctx, shipmentID)
	if err != nil {
		return ct, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A Forget while the read was under way may concern this shipment:
	// the value read may be the one just erased or replaced. Use it for
	// this call (a read a moment earlier would have returned it too), but
	// do not keep it.
	if c.epoch != epoch {
		return ct, nil
	}
	if c.byID == nil {
		c.byID = map[string]*list.Element{}
	}
	if e, ok := c.byID[shipmentID]; ok {
		e.Value.(*cached).contact = ct
		c.lru.MoveToFront(e)
		return ct, nil
	}
	c.byID[shipmentID] = c.lru.PushFront(&cached{shipment: shipmentID, contact: ct})
	size := c.Size
	if size <= 0 {
		size = 4096
	}
	for c.lru.Len() > size {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.byID, last.Value.(*cached).shipment)
	}
	return ct, nil
}

// Forget drops the shipment's contact: it changed or was erased on the
// ledger. The next lookup reads it again.
func (c *Cache) Forget(shipmentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	if e, ok := c.byID[shipmentID]; ok {
		c.lru.Remove(e)
		delete(c.byID, shipmentID)
	}
}

// Len is the number of contacts held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
