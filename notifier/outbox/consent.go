package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/phone"
)

// Consent storage. A buyer's STOP or START arrives from their WhatsApp ID,
// which may differ from the number the exporter recorded (see package
// phone), so changes are stored per sender reference and looked up through
// every form of a number plus the wa_ids WhatsApp reported for it. Only
// keyed references (the store's notifier.RefKey) are stored, never the
// digits, and never a message ID: Meta's IDs embed the sender's number.
var (
	bConsent     = []byte("consent")      // ref(wa_id) → consentRecord: the latest change from that WhatsApp ID
	bConsentMsgs = []byte("consent_msgs") // ref(message ID) → unix seconds seen: inbound messages already applied
	bWALinks     = []byte("wa_links")     // ref(number) "/" ref(wa_id) → nil: wa_ids WhatsApp reported for a number
)

// seenTTL bounds how long message IDs are remembered for de-duplication;
// Meta retries an undelivered webhook for up to 7 days.
const seenTTL = 14 * 24 * time.Hour

// ConsentChange is one opt-out or opt-in a buyer sent.
type ConsentChange struct {
	From      string    // the sender's wa_id (webhook "from")
	OptOut    bool      // STOP (true) or START (false)
	Word      string    // the normalised keyword, for the record
	MessageID string    // WhatsApp's message ID (wamid), for de-duplication
	At        time.Time // WhatsApp's message timestamp: the order that counts
}

type consentRecord struct {
	OptOut bool      `json:"optOut"`
	At     time.Time `json:"at"`
	Word   string    `json:"word,omitempty"`
}

// supersededBy reports whether change c replaces record r. Changes are
// ordered by WhatsApp's message timestamp, not by arrival: a redelivered or
// replayed START older than the STOP must not re-subscribe. Timestamps have
// one-second resolution, so within a second the later arrival wins; a
// redelivery of the earlier message is caught by its message ID first.
func (r consentRecord) supersededBy(c ConsentChange) bool {
	return !c.At.Before(r.At)
}

// ApplyConsent records an inbound opt-out or opt-in. It is applied only if
// its message ID was not seen before and it is newer than what is stored
// for that WhatsApp ID; applied says whether it changed anything.
func (s *Store) ApplyConsent(c ConsentChange) (applied bool, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		applied = false
		msgs := tx.Bucket(bConsentMsgs)
		if c.MessageID != "" {
			seen := []byte(s.refs.MessageRef(c.MessageID))
			if msgs.Get(seen) != nil {
				return nil
			}
			var ts [8]byte
			binary.BigEndian.PutUint64(ts[:], uint64(max(s.now().Unix(), 0)))
			if err := msgs.Put(seen, ts[:]); err != nil {
				return err
			}
			if err := pruneSeen(msgs, s.now()); err != nil {
				return err
			}
		}
		key := []byte(s.refs.PhoneRef(c.From))
		b := tx.Bucket(bConsent)
		if v := b.Get(key); v != nil {
			var r consentRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode consent record: %w", err)
			}
			if !r.supersededBy(c) {
				return nil
			}
		}
		v, err := json.Marshal(consentRecord{OptOut: c.OptOut, At: c.At.UTC(), Word: c.Word})
		if err != nil {
			return err
		}
		applied = true
		return b.Put(key, v)
	})
	if err != nil {
		return false, fmt.Errorf("record consent: %w", err)
	}
	return applied, nil
}

// pruneSeen forgets message IDs older than seenTTL once there are many.
func pruneSeen(b *bolt.Bucket, now time.Time) error {
	if b.Stats().KeyN < 10000 {
		return nil
	}
	cutoff := uint64(max(now.Add(-seenTTL).Unix(), 0))
	var old [][]byte
	_ = b.ForEach(func(k, v []byte) error {
		if len(v) == 8 && binary.BigEndian.Uint64(v) < cutoff {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// LinkWAID records that WhatsApp delivers messages for number to waID
// (the send response's contacts[].wa_id, or a status webhook's
// recipient_id), so a STOP from waID opts number out.
func (s *Store) LinkWAID(number, waID string) error {
	if phone.Digits(number) == phone.Digits(waID) || waID == "" || number == "" {
		return nil
	}
	key := []byte(s.refs.PhoneRef(number) + "/" + s.refs.PhoneRef(waID))
	err := s.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bWALinks)
		if b.Get(key) != nil {
			return nil
		}
		return b.Put(key, nil)
	})
	if err != nil {
		return fmt.Errorf("link wa_id: %w", err)
	}
	return nil
}

// optedOut reports whether the latest consent change from any WhatsApp ID
// of number is an opt-out. The IDs are the number's own forms
// (phone.Variants) and the wa_ids WhatsApp reported for any of them, all
// under keyed references; opt-outs an older store kept under unkeyed ones
// (refs.go) count too.
func optedOut(tx *bolt.Tx, k notifier.RefKey, number string) bool {
	refs := map[string]bool{}
	links := tx.Bucket(bWALinks)
	variants := phone.Variants(number)
	for _, v := range variants {
		ref := k.PhoneRef(v)
		refs[ref] = true
		if links == nil {
			continue
		}
		prefix := []byte(ref + "/")
		c := links.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			refs[string(k[len(prefix):])] = true
		}
	}
	var latest *consentRecord
	consider := func(r consentRecord) {
		if latest == nil || r.At.After(latest.At) || (r.At.Equal(latest.At) && r.OptOut) {
			latest = &r
		}
	}
	// Opt-outs recorded before consent records existed count as opt-outs
	// at their time: keyed ones, and unkeyed ones an older store kept for
	// numbers it could not re-file (refs.go).
	legacy := func(b *bolt.Bucket, ref string) {
		if b == nil {
			return
		}
		if v := b.Get([]byte(ref)); v != nil {
			var r consentRecord
			_ = json.Unmarshal(v, &r)
			r.OptOut = true
			consider(r)
		}
	}
	consent := tx.Bucket(bConsent)
	for ref := range refs {
		if v := consent.Get([]byte(ref)); v != nil {
			var r consentRecord
			if json.Unmarshal(v, &r) == nil {
				consider(r)
			}
		}
		legacy(tx.Bucket(bOptOuts), ref)
	}
	for _, v := range variants {
		legacy(tx.Bucket(bUnkeyedOptOuts), unkeyedRef(v))
	}
	return latest != nil && latest.OptOut
}
