package outbox_test

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// rendered is a buyer notification as decide renders it: the number, the
// buyer's name as template parameter 1, the buyer's language.
func rendered(tx, phone, name string, status notifier.Status) notifier.Notification {
	n := note(tx)
	n.Phone, n.Status = phone, status
	n.Message = notifier.Message{To: strings.TrimPrefix(phone, "+"), Template: "shipment_shipped", Language: "es",
		CallbackData: n.ID, Components: []notifier.Component{{Type: "body", Parameters: []notifier.Parameter{
			{Type: "text", Text: name}, {Type: "text", Text: "SHP-1"}}}}}
	return n
}

func TestSkippedNotificationStoresNothingPersonal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	n := rendered("tx1", "+34611223344", "Zoraida", notifier.StatusSkipped)
	n.Reason = "no_consent"
	if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: 1, TxID: "tx1"}, plan(n)); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Get(n.ID)
	st.Close()
	if got.Status != notifier.StatusSkipped || got.Reason != "no_consent" {
		t.Errorf("skipped notification kept as %s %q", got.Status, got.Reason)
	}
	logical, raw := found(t, path, append(phoneForms("+34611223344", 2), "Zoraida")...)
	if len(logical)+len(raw) > 0 {
		t.Errorf("a notification skipped for lack of consent left personal data in the store: %v in its records, %v in the file", logical, raw)
	}
}

func TestOptOutIsStoredUnderAKeyedReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: "34611223344", OptOut: true, Word: "STOP", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	sum := sha256.Sum256([]byte("34611223344"))
	unkeyed := hex.EncodeToString(sum[:])
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		for _, b := range []string{"consent", "optouts"} {
			tx.Bucket([]byte(b)).ForEach(func(k, _ []byte) error {
				n++
				if strings.HasPrefix(unkeyed, string(k)) {
					t.Errorf("opt-out stored in %s under %s, the unkeyed SHA-256 of the number: enumerating a country's numbers reverses it", b, k)
				}
				return nil
			})
		}
		return nil
	})
	if n != 1 {
		t.Errorf("%d opt-outs stored, want 1", n)
	}
}

// Inbound messages are de-duplicated by their ID, which Meta builds from
// the sender's number: the store keeps only its keyed reference, and a
// redelivery is still recognised.
func TestConsentDeduplicationKeepsNoMessageID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	st := open(t, path)
	wamid := "wamid.HBgNMzQ2MTEyMjMzNDQVAgASGBQzQUZG"
	at := time.Now()
	stop := outbox.ConsentChange{From: "34611223344", OptOut: true, Word: "STOP", MessageID: wamid, At: at}
	if applied, err := st.ApplyConsent(stop); err != nil || !applied {
		t.Fatalf("STOP not applied: %v", err)
	}
	// A START written later, then the STOP redelivered with a newer
	// timestamp than the START: only its message ID tells it was applied.
	if _, err := st.ApplyConsent(outbox.ConsentChange{From: "34611223344", Word: "START", MessageID: "wamid.other", At: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	stop.At = at.Add(2 * time.Second)
	if applied, _ := st.ApplyConsent(stop); applied {
		t.Error("a redelivered STOP was applied again")
	}
	st.Close()
	if logical, raw := found(t, path, wamid, "HBgNMzQ2MTEyMjMzNDQ"); len(logical)+len(raw) > 0 {
		t.Errorf("the inbound message ID is in the store: %v in its records, %v in the file", logical, raw)
	}
}
