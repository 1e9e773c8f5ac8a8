package outbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
)

// Parked events. An event whose buyer contact cannot be read for reasons of
// its own (the contract refuses that one shipment, its record does not
// decode, or the private data has not reached this peer yet) is set aside
// here, in its own record, so the checkpoint moves on and the other events
// are not blocked. The intake retries it with backoff; after its attempts
// run out it stays here as a dead letter, listed for an operator.
var (
	bParked           = []byte("parked")             // transaction ID → Parked
	bParkedByShipment = []byte("parked-by-shipment") // shipment ID \x00 transaction ID → nothing
)

func parkedIndexKey(shipmentID, txID string) []byte { return []byte(shipmentID + "\x00" + txID) }

// Parked is an event set aside for retry, or given up (Dead).
type Parked struct {
	Event     notifier.ChainEvent `json:"event"`
	Type      string              `json:"type"`
	Shipment  string              `json:"shipmentId"`
	EventTime time.Time           `json:"eventTime"`
	Reason    string              `json:"reason"` // lookup_failed, contact_not_found_yet
	Error     string              `json:"error,omitempty"`
	Attempts  int                 `json:"attempts"`
	FirstAt   time.Time           `json:"firstAt"`
	NextAt    time.Time           `json:"nextAt"`
	Dead      bool                `json:"dead"`
}

// Park sets an event aside. Parking the same transaction again (a replay
// after a crash between parking and recording the checkpoint) keeps the
// existing record and its attempt count.
func (s *Store) Park(p Parked) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bParked)
		if b.Get([]byte(p.Event.TxID)) != nil {
			return nil
		}
		if err := tx.Bucket(bParkedByShipment).Put(parkedIndexKey(p.Shipment, p.Event.TxID), nil); err != nil {
			return err
		}
		return putParked(b, p)
	})
	if err != nil {
		return fmt.Errorf("park event %s: %w", p.Event.TxID, err)
	}
	return nil
}

// DueParked returns parked events that are not dead and due by now, oldest
// event first.
func (s *Store) DueParked(now time.Time, limit int) ([]Parked, error) {
	all, err := s.parked(func(p Parked) bool { return !p.Dead && !p.NextAt.After(now) })
	if len(all) > limit {
		all = all[:limit]
	}
	return all, err
}

// DeadLetters returns every parked event, dead or still being retried, so
// an operator sees what is held back and why.
func (s *Store) DeadLetters() ([]Parked, error) {
	return s.parked(func(Parked) bool { return true })
}

func (s *Store) parked(keep func(Parked) bool) ([]Parked, error) {
	var out []Parked
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bParked).ForEach(func(_, v []byte) error {
			var p Parked
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if keep(p) {
				out = append(out, p)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list parked events: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Event.Block != out[j].Event.Block {
			return out[i].Event.Block < out[j].Event.Block
		}
		return out[i].FirstAt.Before(out[j].FirstAt)
	})
	return out, nil
}

// UpdateParked stores a retried event's new state.
func (s *Store) UpdateParked(p Parked) error {
	err := s.update(func(tx *bolt.Tx) error { return putParked(tx.Bucket(bParked), p) })
	if err != nil {
		return fmt.Errorf("update parked event %s: %w", p.Event.TxID, err)
	}
	return nil
}

// ResolveParked forgets an event whose notifications are now recorded.
func (s *Store) ResolveParked(txID string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bParked)
		if v := b.Get([]byte(txID)); v != nil {
			var p Parked
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if err := tx.Bucket(bParkedByShipment).Delete(parkedIndexKey(p.Shipment, txID)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(txID))
	})
	if err != nil {
		return fmt.Errorf("resolve parked event %s: %w", txID, err)
	}
	return nil
}

// WakeParked makes the shipment's parked events that are still being
// retried due now, and says how many it woke. The intake calls it when the
// stream meets the shipment's contact.updated: an event set aside because
// its contact was not there yet (every shipment's "created" event, since
// the gateway sets the contact in a transaction after the create) is then
// looked up at once instead of at its next backoff.
func (s *Store) WakeParked(shipmentID string, now time.Time) (int, error) {
	woke := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bParked)
		prefix := []byte(shipmentID + "\x00")
		c := tx.Bucket(bParkedByShipment).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			v := b.Get(k[len(prefix):])
			if v == nil {
				continue
			}
			var p Parked
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.Dead || !p.NextAt.After(now) {
				continue
			}
			p.NextAt = now
			if err := putParked(b, p); err != nil {
				return err
			}
			woke++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("wake parked events of %s: %w", shipmentID, err)
	}
	return woke, nil
}

func putParked(b *bolt.Bucket, p Parked) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.Put([]byte(p.Event.TxID), v)
}
