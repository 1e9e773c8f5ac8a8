package journal

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, path string, now *time.Time) *Journal {
	t.Helper()
	j, err := Open(path, Options{TTL: time.Hour, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestClaimsAcrossARestart(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path, &now)
	e := Entry{Scope: "erp", Key: "k1", Fingerprint: "f1", Op: "Ship", Identity: "exporter"}

	if _, c, _ := j.Begin(e); c != Fresh {
		t.Fatalf("first claim %v, want Fresh", c)
	}
	if _, c, _ := j.Begin(e); c != InFlight {
		t.Fatalf("while running %v, want InFlight", c)
	}
	if _, c, _ := j.Begin(Entry{Scope: "erp", Key: "k1", Fingerprint: "other"}); c != Mismatch {
		t.Fatalf("other body %v, want Mismatch", c)
	}
	if err := j.AddTx("erp", "k1", "tx-a"); err != nil {
		t.Fatal(err)
	}
	// The process dies without a response.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = open(t, path, &now)
	defer j.Close()
	got, c, err := j.Begin(e)
	if err != nil || c != Orphaned || len(got.TxIDs) != 1 || got.TxIDs[0] != "tx-a" {
		t.Fatalf("after restart %v %+v %v, want Orphaned with tx-a", c, got, err)
	}
	if err := j.Complete("erp", "k1", 200, map[string]string{"Location": "/x"}, []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	got, c, _ = j.Begin(e)
	if c != Replay || got.Status != 200 || string(got.Body) != `{"ok":true}` || got.Header["Location"] != "/x" {
		t.Fatalf("after completion %v %+v", c, got)
	}
	// Another client's identical key is its own.
	if _, c, _ := j.Begin(Entry{Scope: "other", Key: "k1", Fingerprint: "f1"}); c != Fresh {
		t.Fatalf("other scope %v", c)
	}
	// Past the TTL the key is forgotten.
	now = now.Add(2 * time.Hour)
	if _, c, _ := j.Begin(e); c != Fresh {
		t.Fatalf("after the TTL %v, want Fresh", c)
	}
}

func TestReleaseWithForgetLetsTheKeyRunAgain(t *testing.T) {
	now := time.Now()
	j := open(t, filepath.Join(t.TempDir(), "j.db"), &now)
	defer j.Close()
	e := Entry{Scope: "s", Key: "k", Fingerprint: "f"}
	j.Begin(e)
	if err := j.Release("s", "k", true); err != nil {
		t.Fatal(err)
	}
	if _, c, _ := j.Begin(e); c != Fresh {
		t.Fatalf("claim %v, want Fresh", c)
	}
	if err := j.Release("s", "k", false); err != nil {
		t.Fatal(err)
	}
	if _, c, _ := j.Begin(e); c != Orphaned {
		t.Fatalf("claim %v, want Orphaned", c)
	}
}

func TestTransactionsAndPurge(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	j := open(t, filepath.Join(t.TempDir(), "j.db"), &now)
	defer j.Close()
	if err := j.PutTx(Tx{ID: "t1", Status: TxPending}); err != nil {
		t.Fatal(err)
	}
	j.Begin(Entry{Scope: "s", Key: "done", Fingerprint: "f"})
	j.Complete("s", "done", 200, nil, nil)
	j.Begin(Entry{Scope: "s", Key: "running", Fingerprint: "f"})
	if tx, ok, err := j.Tx("t1"); err != nil || !ok || tx.Status != TxPending {
		t.Fatalf("tx %+v %v %v", tx, ok, err)
	}
	now = now.Add(2 * time.Hour)
	n, err := j.Purge()
	if err != nil || n != 2 {
		t.Fatalf("purged %d (%v), want 2: the running key stays", n, err)
	}
	if _, ok, _ := j.Tx("t1"); ok {
		t.Error("old transaction kept")
	}
}

func TestASecondProcessCannotOpenTheJournal(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path, &now)
	defer j.Close()
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second open: %v", err)
	}
}

// Deleting under a bbolt cursor moves the cursor to the next entry, so a
// purge that then calls Next skips every entry that follows a deleted one.
func TestPurgeDeletesConsecutiveOldEntries(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	j := open(t, filepath.Join(t.TempDir(), "j.db"), &now)
	defer j.Close()
	const n = 100
	for i := range n {
		if err := j.PutTx(Tx{ID: fmt.Sprintf("t%04d", i), Status: TxCommitted}); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("k%04d", i)
		j.Begin(Entry{Scope: "s", Key: key, Fingerprint: "f"})
		j.Complete("s", key, 200, nil, nil)
	}
	now = now.Add(2 * time.Hour)
	got, err := j.Purge()
	if err != nil || got != 2*n {
		t.Fatalf("purged %d (%v), want %d", got, err, 2*n)
	}
	for i := range n {
		if _, ok, _ := j.Tx(fmt.Sprintf("t%04d", i)); ok {
			t.Errorf("transaction t%04d survived the purge", i)
		}
	}
}
