package outbox

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/phone"
)

// Opt-outs and daily caps are filed under keyed phone references
// (notifier.RefKey). The store remembers the key's fingerprint: opened
// under another key it would stop matching its own opt-outs and message
// people who asked not to be, so Open refuses instead.

var (
	kRefKey = []byte("phone_ref_key")
	// bUnkeyedOptOuts keeps opt-outs of a store written before references
	// were keyed whose number the outbox no longer knows, so they could not
	// be carried over to a keyed reference; they are still honoured.
	bUnkeyedOptOuts = []byte("optouts_unkeyed")
)

// ErrWrongRefKey means the store was written under another phone
// reference key.
var ErrWrongRefKey = errors.New("the phone reference key is not the one this outbox was written with: " +
	"its opt-outs and daily caps would no longer match (start with the original key)")

func randomRefKey() (notifier.RefKey, error) {
	b := make([]byte, notifier.MinRefKeyLen)
	if _, err := rand.Read(b); err != nil {
		return notifier.RefKey{}, fmt.Errorf("phone reference key: %w", err)
	}
	return notifier.NewRefKey(b)
}

// adoptRefKey checks the store's key fingerprint, or records it on a new
// store, re-filing what an older store kept under unkeyed references.
func (s *Store) adoptRefKey(tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	fp := []byte(s.refs.Fingerprint())
	got := meta.Get(kRefKey)
	if got != nil {
		if !bytes.Equal(got, fp) {
			return ErrWrongRefKey
		}
		return nil
	}
	if err := rekeyUnkeyed(tx, s.refs); err != nil {
		return fmt.Errorf("re-file unkeyed phone references: %w", err)
	}
	return meta.Put(kRefKey, fp)
}

// unkeyedRef is the reference stores used before it was keyed: the first
// 64 bits of SHA-256 of the digits. Only for reading such stores.
func unkeyedRef(phone string) string {
	sum := sha256.Sum256([]byte(notifier.NormalizePhone(phone)))
	return hex.EncodeToString(sum[:8])
}

// rekeyUnkeyed moves opt-outs, consent records and caps from unkeyed to
// keyed references, using the numbers the notifications still hold (in
// every form WhatsApp may use for them, phone.Variants), and gives every
// notification its PhoneRef. Opt-outs of numbers it cannot find go to
// bUnkeyedOptOuts; caps it cannot find are dropped (they count messages
// the outbox recorded, so every cap has its number, unless a day's cap is
// no longer of use). Consent records of unknown senders are kept as
// unkeyed opt-outs if they are one (an unknown opt-in undoes nothing that
// is kept); wa_id links and the message IDs seen are dropped: links are
// recorded again at the next send, and message IDs must not be stored.
func rekeyUnkeyed(tx *bolt.Tx, k notifier.RefKey) error {
	keyed := map[string]string{} // unkeyed ref → keyed ref
	var refless []notifier.Notification
	err := tx.Bucket(bNotes).ForEach(func(_, v []byte) error {
		var n notifier.Notification
		if err := json.Unmarshal(v, &n); err != nil {
			return err
		}
		if n.Phone == "" {
			return nil
		}
		for _, v := range phone.Variants(n.Phone) {
			keyed[unkeyedRef(v)] = k.PhoneRef(v)
		}
		if n.PhoneRef == "" {
			n.PhoneRef = k.PhoneRef(n.Phone)
			refless = append(refless, n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range refless {
		if err := putNote(tx, n); err != nil {
			return err
		}
	}
	var orphans *bolt.Bucket
	orphan := func(k, v []byte) (err error) {
		if orphans == nil {
			if orphans, err = tx.CreateBucketIfNotExists(bUnkeyedOptOuts); err != nil {
				return err
			}
		}
		return orphans.Put(k, v)
	}
	oo := tx.Bucket(bOptOuts)
	for _, kv := range entries(oo) {
		if ref, ok := keyed[string(kv[0])]; ok {
			err = oo.Put([]byte(ref), kv[1])
		} else {
			err = orphan(kv[0], kv[1])
		}
		if err != nil {
			return err
		}
		if err := oo.Delete(kv[0]); err != nil {
			return err
		}
	}
	consent := tx.Bucket(bConsent)
	for _, kv := range entries(consent) {
		var r consentRecord
		if ref, ok := keyed[string(kv[0])]; ok {
			err = consent.Put([]byte(ref), kv[1])
		} else if json.Unmarshal(kv[1], &r) == nil && r.OptOut {
			err = orphan(kv[0], kv[1])
		}
		if err != nil {
			return err
		}
		if err := consent.Delete(kv[0]); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bWALinks, bConsentMsgs} {
		if err := clearBucket(tx.Bucket(b)); err != nil {
			return err
		}
	}
	caps := tx.Bucket(bCaps)
	for _, kv := range entries(caps) {
		day, ref, _ := bytes.Cut(kv[0], []byte("/"))
		if to, ok := keyed[string(ref)]; ok {
			if err := caps.Put([]byte(string(day)+"/"+to), kv[1]); err != nil {
				return err
			}
		}
		if err := caps.Delete(kv[0]); err != nil {
			return err
		}
	}
	return nil
}

// entries copies a bucket's pairs, so the caller can change the bucket.
func entries(b *bolt.Bucket) [][2][]byte {
	var out [][2][]byte
	_ = b.ForEach(func(k, v []byte) error {
		out = append(out, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	return out
}

func clearBucket(b *bolt.Bucket) error {
	for _, kv := range entries(b) {
		if err := b.Delete(kv[0]); err != nil {
			return err
		}
	}
	return nil
}
