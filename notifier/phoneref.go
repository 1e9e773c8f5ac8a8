package notifier

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// MinRefKeyLen is the shortest phone reference key accepted: 32 bytes, the
// size of the HMAC-SHA256 output, so the key is no weaker than the hash.
const MinRefKeyLen = 32

// RefKey is the secret key of phone references. A plain hash of a phone
// number is reversible by hashing every number of a country (a few hundred
// million tries); an HMAC under a key that never leaves the notifier's
// configuration is not. The zero RefKey has no key and must not be used.
type RefKey struct{ key []byte }

// NewRefKey returns the key of phone references, at least MinRefKeyLen
// bytes of secret.
func NewRefKey(secret []byte) (RefKey, error) {
	if len(secret) < MinRefKeyLen {
		return RefKey{}, fmt.Errorf("phone reference key has %d bytes, needs at least %d", len(secret), MinRefKeyLen)
	}
	return RefKey{key: bytes.Clone(secret)}, nil
}

// IsZero reports whether k has no key.
func (k RefKey) IsZero() bool { return len(k.key) == 0 }

// PhoneRef is a stable reference to a phone number, safe for logs and store
// keys where the number itself is not needed: the first 128 bits of
// HMAC-SHA256(key, digits), hex-encoded. Formatting does not matter
// ("+49 151 234" and "49151234" have one reference).
func (k RefKey) PhoneRef(phone string) string {
	return hex.EncodeToString(k.sum(NormalizePhone(phone))[:16])
}

// PhoneRefOrEmpty is PhoneRef, or "" for an empty number.
func (k RefKey) PhoneRefOrEmpty(phone string) string {
	if NormalizePhone(phone) == "" {
		return ""
	}
	return k.PhoneRef(phone)
}

// MessageRef is a stable reference to a WhatsApp message ID (wamid), safe
// for logs and store keys: Meta's IDs are base64 that embeds the
// recipient's or sender's number, so the ID itself is personal data. It is
// the first 128 bits of HMAC-SHA256(key, "wamid:" + id), hex-encoded; the
// prefix keeps it apart from phone references.
func (k RefKey) MessageRef(id string) string {
	return hex.EncodeToString(k.sum("wamid:" + id)[:16])
}

// NotificationRef is the keyed reference of a notification ID, the name a
// proof-of-notification status record (notifier/proof) gives its
// notification. The ID itself (transaction, event, role) is not personal,
// but a record is shown to other members: keyed, its name says which
// notification it belongs to only through this notifier, like the record's
// message reference. The prefix keeps it apart from phone and message
// references.
func (k RefKey) NotificationRef(id string) string {
	return hex.EncodeToString(k.sum("notification:" + id)[:16])
}

// Fingerprint identifies the key without revealing it, so a store written
// under one key can refuse another: its opt-outs would silently stop matching.
func (k RefKey) Fingerprint() string {
	return hex.EncodeToString(k.sum("shiptrace notifier phone reference key check")[:8])
}

func (k RefKey) sum(s string) []byte {
	if len(k.key) == 0 {
		panic("notifier: RefKey used without a key")
	}
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// NormalizePhone reduces an E.164 number to its digits, the form WhatsApp
// uses for wa_id, so "+49 151 234" and "49151234" compare equal.
func NormalizePhone(phone string) string {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
