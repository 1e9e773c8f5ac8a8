package outbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
)

// purgeChunk bounds one purge transaction, so a first purge of a large
// store does not hold the writer (and the intake behind it) for long.
const purgeChunk = 1000

// Purge deletes what the retention period no longer covers: notifications
// whose last change (the final status, the last webhook) is older than
// cutoff, with their index entries, and daily caps of days before cutoff.
// A notification still owed (queued, sending, uncertain) stays whatever
// its age: purging it would drop a message. Opt-outs stay as long as the
// store: they are the recipient's standing request. It returns how many
// notifications it deleted.
func (s *Store) Purge(cutoff time.Time) (int, error) {
	total := 0
	for {
		n, err := s.purgeChunk(cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge notifications older than %s: %w", cutoff.Format(time.RFC3339), err)
		}
		if n < purgeChunk {
			break
		}
	}
	capsGone, err := s.purgeCaps(cutoff)
	if err != nil {
		return total, fmt.Errorf("purge daily caps before %s: %w", cutoff.Format(capDay), err)
	}
	if err := s.purgeReplyable(); err != nil {
		return total, fmt.Errorf("purge closed reply windows: %w", err)
	}
	if total > 0 || capsGone > 0 {
		s.wantCompaction()
	}
	return total, nil
}

func (s *Store) purgeChunk(cutoff time.Time) (int, error) {
	count := 0
	err := s.update(func(tx *bolt.Tx) error {
		count = 0
		var old []notifier.Notification
		err := tx.Bucket(bNotes).ForEach(func(_, v []byte) error {
			if len(old) == purgeChunk {
				return nil
			}
			var n notifier.Notification
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			if n.Status.Terminal() && n.UpdatedAt.Before(cutoff) {
				old = append(old, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		count = len(old)
		return deleteAll(tx, old, func(n notifier.Notification) error { return deleteNote(tx, n) })
	})
	return count, err
}

// deleteAll deletes every item and, if there was one, marks the file for a
// rewrite: the deleted bytes stay in freed pages until then.
func deleteAll[T any](tx *bolt.Tx, items []T, del func(T) error) error {
	for _, it := range items {
		if err := del(it); err != nil {
			return err
		}
	}
	if len(items) == 0 {
		return nil
	}
	return markForCompaction(tx)
}

// deleteNote removes a settled notification and its index entries.
func deleteNote(tx *bolt.Tx, n notifier.Notification) error {
	if err := tx.Bucket(bByShipment).Delete(shipmentKey(n.ShipmentID, n.ID)); err != nil {
		return err
	}
	if n.WAMID != "" {
		if err := tx.Bucket(bByWAMID).Delete([]byte(n.WAMID)); err != nil {
			return err
		}
	}
	return tx.Bucket(bNotes).Delete([]byte(n.ID))
}

func (s *Store) purgeCaps(cutoff time.Time) (int, error) {
	before := []byte(cutoff.UTC().Format(capDay))
	count := 0
	err := s.update(func(tx *bolt.Tx) error {
		count = 0
		caps := tx.Bucket(bCaps)
		var old [][]byte
		c := caps.Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:min(len(k), len(before))], before) < 0; k, _ = c.Next() {
			old = append(old, bytes.Clone(k))
		}
		count = len(old)
		return deleteAll(tx, old, caps.Delete)
	})
	return count, err
}
