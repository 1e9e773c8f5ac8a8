package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bbolt never overwrites a page in place: a change writes new pages and
// frees the old ones, which keep their bytes until bbolt happens to reuse
// them. So an erased phone number or a purged notification stays readable
// in the file. Compact rewrites the file with only the live data and
// replaces the old one, which is what makes erasure complete on disk.

func compactPath(path string) string { return path + ".compact" }

// kCompact marks, in the transaction that deleted personal data, that the
// file needs a rewrite; only the rewritten file lacks it, so a stop before
// the rewrite is caught up at the next Open.
var kCompact = []byte("compact")

func markForCompaction(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kCompact, []byte{1}) }

// CompactionWanted is signalled after an erasure or a purge deleted data;
// the owner then calls Compact, at the pace it chooses.
func (s *Store) CompactionWanted() <-chan struct{} { return s.compact }

func (s *Store) wantCompaction() {
	select {
	case s.compact <- struct{}{}:
	default:
	}
}

// Compact rewrites the store file with only its live data and swaps it in
// by rename, so no freed page keeps deleted data. Reads and writes wait
// while it runs (a copy of the live data: milliseconds for a few thousand
// notifications). A crash before the rename leaves the old file, whole; a
// crash after it, the new one, whole; Open removes an unfinished copy.
func (s *Store) Compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	tmp := compactPath(s.path)
	if err := s.writeCompactCopy(tmp); err != nil {
		_ = os.Remove(tmp)
		s.wantCompaction() // try again later
		return fmt.Errorf("rewrite outbox %s: %w", s.path, err)
	}
	if err := s.db.Close(); err != nil {
		_ = os.Remove(tmp)
		return s.reopen(fmt.Errorf("rewrite outbox %s: close: %w", s.path, err))
	}
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return s.reopen(fmt.Errorf("rewrite outbox %s: %w", s.path, err))
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return s.reopen(fmt.Errorf("rewrite outbox %s: %w", s.path, err))
	}
	return s.reopen(nil)
}

// writeCompactCopy writes the live data to tmp; each of bbolt's commits
// is fsynced, so the copy is on disk when this returns.
func (s *Store) writeCompactCopy(tmp string) error {
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, s.db, 4<<20); err != nil {
		dst.Close()
		return err
	}
	err = dst.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete(kCompact) })
	return errors.Join(err, dst.Close())
}

// reopen opens the store's file again after Compact closed it, and returns
// cause (or the reopen's error). If the file cannot be opened the store
// stays closed: every call fails with ErrClosed and readiness reports it.
func (s *Store) reopen(cause error) error {
	db, err := openDB(s.path)
	if err != nil {
		s.db = nil
		return errors.Join(cause, err)
	}
	s.db = db
	return cause
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
