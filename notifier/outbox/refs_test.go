package outbox_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

func TestReopeningUnderAnotherRefKeyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	if err := st.OptOut("+34611223344", "STOP", time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	other, _ := notifier.NewRefKey([]byte("another-phone-reference-key-0123"))
	if st, err := outbox.Open(path, outbox.WithRefKey(other)); !errors.Is(err, outbox.ErrWrongRefKey) {
		if st != nil {
			st.Close()
		}
		t.Fatalf("open under another key: %v, want ErrWrongRefKey (the opt-out would be forgotten)", err)
	}
	st = open(t, path)
	defer st.Close()
	if out, _ := st.OptedOut("+34611223344"); !out {
		t.Error("under its own key the store lost the opt-out")
	}
}

// unkeyed is how stores before keyed references filed a number.
func unkeyed(phone string) string {
	sum := sha256.Sum256([]byte(notifier.NormalizePhone(phone)))
	return hex.EncodeToString(sum[:8])
}

func TestStoreWithUnkeyedReferencesKeepsItsOptOutsAndCaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	known, stranger := "+34611223344", "+34699887766"
	day := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := rendered("tx1", known, "Zoraida", notifier.StatusSent)
	v, _ := json.Marshal(n)
	var two [8]byte
	binary.BigEndian.PutUint64(two[:], 2)
	err = db.Update(func(tx *bolt.Tx) error {
		put := func(bucket, k string, v []byte) {
			b, _ := tx.CreateBucketIfNotExists([]byte(bucket))
			b.Put([]byte(k), v)
		}
		put("notifications", n.ID, v)
		put("by_shipment", n.ShipmentID+"\x00"+n.ID, nil)
		put("optouts", unkeyed(known), []byte(`{"word":"STOP"}`))
		put("optouts", unkeyed(stranger), []byte(`{"word":"STOP"}`))
		put("caps", "2026-03-04/"+unkeyed(known), two[:])
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	st := open(t, path)
	for _, p := range []string{known, stranger} {
		if out, err := st.OptedOut(p); err != nil || !out {
			t.Errorf("opt-out of %s… lost when references became keyed (%v)", p[:5], err)
		}
	}
	var sent int
	st.Record(t.Context(), notifier.Checkpoint{Block: 2, TxID: "tx2"}, func(v outbox.View) []notifier.Notification {
		sent = v.SentOnDay(known, day)
		return nil
	})
	if sent != 2 {
		t.Errorf("daily cap count %d after re-keying, want 2", sent)
	}
	if got, _ := st.Get(n.ID); got.PhoneRef != refKey.PhoneRef(known) {
		t.Errorf("notification's PhoneRef %q, want the keyed reference", got.PhoneRef)
	}
	if err := st.OptIn(stranger); err != nil {
		t.Fatal(err)
	}
	if out, _ := st.OptedOut(stranger); out {
		t.Error("opting back in did not clear an opt-out kept under its unkeyed reference")
	}
	st.Close()
	logical, _ := found(t, path, unkeyed(known))
	if len(logical) > 0 {
		t.Errorf("the unkeyed reference of a number the outbox knows is still stored")
	}
}
