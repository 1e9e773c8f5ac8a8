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
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: "34611223344", OptOut: true, Word: "STOP", At: time.Now()}); err != nil {
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

// oldStore writes path as a store from before keyed references: a sent
// notification n (its shipment index too) and the extra entries put adds.
func oldStore(t *testing.T, path string, n notifier.Notification, put func(put func(bucket, k string, v []byte))) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := json.Marshal(n)
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		add := func(bucket, k string, v []byte) {
			b, berr := tx.CreateBucketIfNotExists([]byte(bucket))
			err = errors.Join(err, berr)
			if b != nil {
				err = errors.Join(err, b.Put([]byte(k), v))
			}
		}
		add("notifications", n.ID, v)
		add("by_shipment", n.ShipmentID+"\x00"+n.ID, nil)
		put(add)
		return err
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
}

func TestStoreWithUnkeyedReferencesKeepsItsOptOutsAndCaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	known, stranger := "+34611223344", "+34699887766"
	day := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	n := rendered("tx1", known, "Zoraida", notifier.StatusSent)
	var two [8]byte
	binary.BigEndian.PutUint64(two[:], 2)
	oldStore(t, path, n, func(put func(bucket, k string, v []byte)) {
		put("optouts", unkeyed(known), []byte(`{"word":"STOP"}`))
		put("optouts", unkeyed(stranger), []byte(`{"word":"STOP"}`))
		put("caps", "2026-03-04/"+unkeyed(known), two[:])
	})

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
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: notifier.NormalizePhone(stranger), Word: "START", At: time.Now()}); err != nil {
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

// A store written by a build with consent records under unkeyed references
// keeps every opt-out it can still tell apart, and keeps no unkeyed
// reference of a number it knows.
func TestUnkeyedConsentRecordsAreReKeyedOrKeptAsOptOuts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	// The buyer's number has the ninth digit; the STOP came from the
	// account's wa_id without it.
	known, waID := "+5511987654321", "551187654321"
	stranger, restarted := "+34699887766", "+34655443322"
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	rec := func(optOut bool) []byte {
		b, _ := json.Marshal(map[string]any{"optOut": optOut, "at": at})
		return b
	}
	oldStore(t, path, rendered("tx1", known, "Ana", notifier.StatusSent), func(put func(bucket, k string, v []byte)) {
		put("consent", unkeyed(waID), rec(true))
		put("consent", unkeyed(stranger), rec(true))
		put("consent", unkeyed(restarted), rec(false))
		put("wa_links", unkeyed(known)+"/"+unkeyed(waID), nil)
		put("consent_msgs", "wamid.HBgMNTUxMTg3NjU0MzIxFQIAEhgg", []byte{0, 0, 0, 0, 0, 0, 0, 1})
	})

	st := open(t, path)
	for _, p := range []string{known, stranger} {
		if out, err := st.OptedOut(p); err != nil || !out {
			t.Errorf("opt-out of %s… lost when references became keyed (%v)", p[:5], err)
		}
	}
	if out, _ := st.OptedOut(restarted); out {
		t.Error("an opt-in became an opt-out")
	}
	// The re-keyed record still orders against later changes.
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: waID, Word: "START", At: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if out, _ := st.OptedOut(known); out {
		t.Error("a later START from the wa_id did not undo the re-keyed STOP")
	}
	st.Close()
	if logical, _ := found(t, path, unkeyed(waID), unkeyed(known), "wamid.HBgMNTUxMTg3NjU0MzIxFQIAEhgg"); len(logical) > 0 {
		t.Errorf("still stored after re-keying: %v", logical)
	}
}
