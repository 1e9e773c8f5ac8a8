package notifier_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestErasureLeavesNoPersonalDataInTheNotifiersStore drives the system
// `shipnet up` runs (gateway, notifier, stand-in) through the README's
// public interfaces: a shipment with a buyer contact ships, its WhatsApp
// message goes out and is read, then the exporter erases the contact
// (DeleteBuyerContact, event contact.deleted). The notifier's bbolt file —
// every record, and its raw bytes, freed pages included — must then hold
// neither the number (E.164, digits, national number) nor the name, while
// the notifications' statuses stay listable. Before the erasure the buyer
// also asked for the status and reported a problem with words and a photo
// (notifier/conversation): the conversation's state, the words and the
// photo's bytes must go too.
func TestErasureLeavesNoPersonalDataInTheNotifiersStore(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local Fabric network")
	}
	net := testnet.Require(t)
	local := net.Local(t)
	sys := net.System(t)
	c := sys.Client()
	ctx := t.Context()

	nsn := fmt.Sprintf("1579%07d", randN(t, 10_000_000)) // German mobile, national significant number
	phone := "+49" + nsn
	name := "Wendelgard" + strings.ToUpper(fmt.Sprintf("%x", randN(t, 1<<30)))
	personal := []string{phone, "49" + nsn, nsn, name}

	id := testnet.UniqueID("ERASE")
	create := coffeeShipment(id, shipment.Contact{Phone: phone, Name: name, Language: "de", Consent: true})
	mustWrite(t, c, "POST", "/v1/shipments", create)
	mustWrite(t, c, "POST", "/v1/shipments/"+id+"/ship", nil)

	buyerRead := func() error {
		ns, err := sys.Notifications(ctx, id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.Recipient == notifier.RoleBuyer && n.EventType == notifier.EventShipped && n.Status == string(notifier.StatusRead) {
				return nil
			}
		}
		return fmt.Errorf("no read shipped notification yet: %+v", ns)
	}
	if err := walk.Eventually(ctx, 60*time.Second, 100*time.Millisecond, buyerRead); err != nil {
		t.Fatalf("the buyer's message did not go out: %v", err)
	}
	// The buyer talks: a status request, then a claim with words and a photo.
	words := fmt.Sprintf("Kaffeesäcke durchnässt %x", randN(t, 1<<40))
	photoMark := fmt.Sprintf("photo-bytes-%x", randN(t, 1<<40))
	buyer := &chat{t: t, sys: sys, phone: phone, digits: walk.Digits(phone)}
	if r := buyer.say(ctx, wastandin.Inbound{Text: "Wo ist meine Bestellung?"}); !strings.Contains(r.Text, "PO-"+id) {
		t.Fatalf("status reply = %q", r.Text)
	}
	buyer.say(ctx, wastandin.Inbound{Text: "Problem melden"})
	buyer.say(ctx, wastandin.Inbound{Text: "1"})
	buyer.say(ctx, wastandin.Inbound{Text: words})
	received := buyer.say(ctx, wastandin.Inbound{MediaID: buyer.upload(ctx, "image/jpeg", []byte("\xff\xd8"+photoMark))})
	if !strings.Contains(received.Text, "CLM-") {
		t.Fatalf("claim not taken: %q", received.Text)
	}
	if left := inStore(t, local.Layout.Home, []string{words, photoMark}); len(left) != 2 {
		t.Fatalf("before the erasure the store holds %q of the words and the photo; the scan would prove nothing", left)
	}
	personal = append(personal, words, photoMark)
	// Before the erasure the store does hold the contact: the scan below can
	// see what it looks for.
	if left := inStore(t, local.Layout.Home, personal); len(left) == 0 {
		t.Fatal("the store holds no trace of the contact before the erasure; the scan would prove nothing")
	}

	mustWrite(t, c, "DELETE", "/v1/shipments/"+id+"/buyer-contact", nil)
	err := walk.Eventually(ctx, 60*time.Second, 100*time.Millisecond, func() error {
		ns, err := sys.Notifications(ctx, id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.Recipient == notifier.RoleBuyer && n.ErasedAt.IsZero() {
				return fmt.Errorf("%s not erased yet", n.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("contact.deleted did not reach the notifier's store: %v", err)
	}
	// The store rewrites its file within store.compact_interval (10 s).
	var left []string
	err = walk.Eventually(ctx, 60*time.Second, 500*time.Millisecond, func() error {
		if left = inStore(t, local.Layout.Home, personal); len(left) > 0 {
			return fmt.Errorf("the notifier's store still holds %d of the contact's %d forms", len(left), len(personal))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v: %q", err, left)
	}
	ns, err := sys.Notifications(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Recipient == notifier.RoleBuyer && n.Status != string(notifier.StatusRead) {
			t.Errorf("%s: status %s after the erasure, want read kept", n.ID, n.Status)
		}
		if n.PhoneRef == "" {
			t.Errorf("%s: the keyed phone reference went with the erasure", n.ID)
		}
	}
	log, err := os.ReadFile(filepath.Join(local.Layout.Home, "logs", "notifier.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range personal {
		if bytes.Contains(log, []byte(p)) {
			t.Errorf("the notifier's log holds %q", p)
		}
	}
}

// inStore returns the needles found in the notifier's bbolt file: in a copy
// opened with bbolt (every bucket, key and value) and in the raw bytes of
// the file itself, where pages bbolt freed keep their old contents.
func inStore(t *testing.T, home string, needles []string) []string {
	t.Helper()
	raw := stableRead(t, filepath.Join(home, "services", "notifier", "notifier.db"))
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	db, err := bolt.Open(cp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open a copy of the notifier's store: %v", err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				records = append(records, bytes.Clone(k), bytes.Clone(v))
				return nil
			})
		})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range needles {
		found := bytes.Contains(raw, []byte(n))
		for _, r := range records {
			found = found || bytes.Contains(r, []byte(n))
		}
		if found {
			out = append(out, n)
		}
	}
	return out
}

// stableRead reads the notifier's live bbolt file until two reads in a row
// are identical. The notifier keeps writing (checkpoints, statuses,
// compaction) and holds bbolt's exclusive lock, so one plain read can catch
// a commit half-way: meta page from before it, pages from after. Opening
// such a torn copy made bbolt panic on its freelist in CI; two equal reads
// bracket a moment with no commit in it.
func stableRead(t *testing.T, path string) []byte {
	t.Helper()
	prev, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		time.Sleep(50 * time.Millisecond)
		cur, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(prev, cur) {
			return cur
		}
		prev = cur
	}
	t.Fatalf("%s changed on every read for 5 s; no consistent copy to scan", path)
	return nil
}

func mustWrite(t *testing.T, c *walk.Client, method, path string, body any) {
	t.Helper()
	r, err := c.Do(t.Context(), "exporter", method, path, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if r.Status/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
}

func randN(t testing.TB, n int64) int64 {
	t.Helper()
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		t.Fatal(err)
	}
	return v.Int64()
}
