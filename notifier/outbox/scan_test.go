package outbox_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// phoneForms are the ways a number can sit in a file: E.164, the digits
// WhatsApp uses, and the national significant number (without the country
// code of length cc).
func phoneForms(e164 string, cc int) []string {
	digits := strings.TrimPrefix(e164, "+")
	return []string{e164, digits, digits[cc:]}
}

// found lists the needles present in the store file, both as bbolt sees it
// (every bucket, key and value) and as raw bytes, where a value bbolt has
// freed but not yet overwritten still sits.
func found(t *testing.T, path string, needles ...string) (logical, raw []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			all = append(all, bytes.Clone(name))
			return b.ForEach(func(k, v []byte) error {
				all = append(all, bytes.Clone(k), bytes.Clone(v))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range needles {
		for _, x := range all {
			if bytes.Contains(x, []byte(n)) {
				logical = append(logical, n)
				break
			}
		}
		if bytes.Contains(b, []byte(n)) {
			raw = append(raw, n)
		}
	}
	return logical, raw
}
