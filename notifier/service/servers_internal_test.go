package service

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/shiptrace/shiptrace/notifier/config"
)

// Every server the notifier runs — webhook, admin API, health — bounds how
// long a connection may hold it: a client that withholds its request
// body, or never reads the answer, must not keep a goroutine forever.
func TestEveryServerHasEveryTimeout(t *testing.T) {
	dir := t.TempDir()
	for f, content := range map[string]string{"events.jsonl": "", "contacts.json": "{}"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load([]string{
		"--store.path=" + filepath.Join(dir, "notifier.db"), "--store.phone_ref_key=servers-test-phone-reference-key!",
		"--intake.source=file", "--intake.file=" + filepath.Join(dir, "events.jsonl"),
		"--contacts.source=file", "--contacts.file=" + filepath.Join(dir, "contacts.json"),
		"--webhook.addr=127.0.0.1:0", "--webhook.app_secret=secret", "--webhook.verify_token=verify",
		"--admin.addr=127.0.0.1:0", "--admin.token=servers-test-admin-token", "--health.addr=127.0.0.1:0",
		"--ops.phone=+4930000000",
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	servers := s.servers()
	if len(servers) != 3 {
		t.Fatalf("%d servers, want webhook, admin and health", len(servers))
	}
	for srv, ln := range servers {
		if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
			t.Errorf("server on %s: read-header %s, read %s, write %s, idle %s; every one must be set",
				ln.Addr(), srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
		}
	}
}
