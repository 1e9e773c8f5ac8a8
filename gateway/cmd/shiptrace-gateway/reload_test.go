package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchSeesTheConfigurationChange: an atomic replacement (init-local's
// rename) and a write in place are each reported; a change to another file
// of the folder is not.
func TestWatchSeesTheConfigurationChange(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &reloader{file: file, log: slog.New(slog.DiscardHandler)}
	changed := r.watch()
	expect := func(what string, want bool) {
		t.Helper()
		select {
		case <-changed:
			if !want {
				t.Fatalf("%s reported as a change of the configuration", what)
			}
		case <-time.After(time.Second):
			if want {
				t.Fatalf("%s not reported within 1s", what)
			}
		}
	}
	if err := writeAtomic(file, []byte("listen: 127.0.0.1:2\n")); err != nil {
		t.Fatal(err)
	}
	expect("an atomic replacement", true)
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("a write in place", true)
	if err := os.WriteFile(filepath.Join(dir, "api-keys.env"), []byte("X=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("another file", false)
}
