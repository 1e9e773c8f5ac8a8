package main

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/pflag"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/gateway/config"
)

// reloader applies a changed configuration while the gateway serves: its
// identities (the Fabric client's members), its API keys and its TLS
// certificate. It reloads on SIGHUP and whenever the configuration file
// changes, so issuing or revoking a device's key needs no restart. Other
// settings (listen addresses, limits, timeouts) take effect at the next
// start.
type reloader struct {
	fs      *pflag.FlagSet
	file    string // the configuration file, "" when there is none
	log     *slog.Logger
	ledger  *fabric.Client
	srv     *api.Server
	cert    *certificate
	mu      sync.Mutex
	members []fabric.Member
}

// run waits for SIGHUP and changes to the configuration file.
func (r *reloader) run() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	changed := r.watch()
	for {
		select {
		case <-hup:
			r.reloadLogged("SIGHUP")
		case <-changed:
			r.reloadLogged("configuration file changed")
		}
	}
}

// watch reports changes to the configuration file. It watches the file's
// folder, not the file: editors and atomic writers replace the file, which
// ends a watch on it. Events are gathered for a moment, so a file written in
// several steps is read once, complete.
func (r *reloader) watch() <-chan struct{} {
	out := make(chan struct{}, 1)
	if r.file == "" {
		return out
	}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		err = w.Add(filepath.Dir(r.file))
	}
	if err != nil {
		r.log.Warn("cannot watch the configuration file; reload with SIGHUP", "file", r.file, "error", err.Error())
		return out
	}
	name := filepath.Clean(r.file)
	go func() {
		var settle <-chan time.Time
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == name && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					settle = time.After(200 * time.Millisecond)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.log.Warn("watching the configuration file", "error", err.Error())
			case <-settle:
				settle = nil
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

func (r *reloader) reloadLogged(why string) {
	if err := r.reload(); err != nil {
		r.log.Error("reload refused; the running configuration stays", "trigger", why, "error", err.Error())
		return
	}
	r.log.Info("configuration reloaded", "trigger", why, "identities", len(r.members))
}

// reload reads the configuration again and applies identities, keys and
// certificate. New identities are connected before their keys are
// accepted, and removed ones closed only after their keys are gone, so no
// request finds a key without its identity.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.fs)
	if err != nil {
		return err
	}
	members, err := cfg.Members()
	if err != nil {
		return err
	}
	both := append([]fabric.Member(nil), members...)
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.Name] = true
	}
	for _, m := range r.members {
		if !seen[m.Name] {
			both = append(both, m)
		}
	}
	if err := r.ledger.Update(both); err != nil {
		return err
	}
	keys, err := apiKeys(cfg, members, r.ledger)
	if err == nil {
		err = r.srv.SetKeys(keys)
	}
	if err != nil {
		_ = r.ledger.Update(r.members)
		return err
	}
	if err := r.ledger.Update(members); err != nil {
		return err
	}
	r.members = members
	if r.cert != nil {
		if err := r.cert.reload(); err != nil {
			return err
		}
	}
	return nil
}

// apiKeys are the configured keys with their identity's organisation and
// certificate role.
func apiKeys(cfg *config.Config, members []fabric.Member, ledger *fabric.Client) ([]api.Key, error) {
	mspOf := ledger.Identities()
	roleOf := map[string]string{}
	for _, m := range members {
		role, err := fabric.Role(m.User)
		if err != nil {
			return nil, fmt.Errorf("identity %s: %w", m.Name, err)
		}
		roleOf[m.Name] = role
	}
	var keys []api.Key
	for _, k := range cfg.APIKeys {
		var h [32]byte
		raw, err := hex.DecodeString(strings.TrimPrefix(k.Hash, "sha256:"))
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("api key %s: bad hash", k.Name)
		}
		copy(h[:], raw)
		keys = append(keys, api.Key{Name: k.Name, Hash: h, Identity: k.Identity, MSPID: mspOf[k.Identity], Role: roleOf[k.Identity]})
	}
	return keys, nil
}

// configFile is the configuration file Load reads (--config or
// SHIPTRACE_GATEWAY_CONFIG), "" for none.
func configFile(fs *pflag.FlagSet) string {
	if f := fs.Lookup("config"); f != nil && f.Changed {
		return f.Value.String()
	}
	return os.Getenv(config.EnvPrefix + "_CONFIG")
}
