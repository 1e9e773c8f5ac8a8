// Command shiptrace-gateway serves the shiptrace chaincode as a REST API for
// one consortium member (or, locally, for all three).
//
//	shiptrace-gateway [serve] [flags]      run the gateway
//	shiptrace-gateway hash-key             read an API key on stdin, print its config hash
//	shiptrace-gateway init-local [flags]   write a config and API keys for the local network
//
// Configuration: a YAML file (--config), SHIPTRACE_GATEWAY_* environment
// variables and flags; see gateway/README.md.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/gateway/config"
	"github.com/shiptrace/shiptrace/gateway/console"
	"github.com/shiptrace/shiptrace/gateway/journal"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shiptrace-gateway:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args)
	case "hash-key":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		key := strings.TrimSpace(line)
		if len(key) < 16 {
			return errors.New("hash-key: an API key must be at least 16 characters (use 32 random bytes)")
		}
		fmt.Fprintln(stdout, config.HashKey(key))
		return nil
	case "init-local":
		return initLocal(args, stdout)
	}
	return fmt.Errorf("unknown command %q (serve, hash-key, init-local)", cmd)
}

func serve(args []string) error {
	fs := pflag.NewFlagSet("shiptrace-gateway", pflag.ContinueOnError)
	config.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(fs)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg)
	members, err := cfg.Members()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var changed shipmentChanges // the tracking page's, once it exists
	ledger, err := fabric.Open(members, fabric.Options{
		Channel: cfg.Fabric.Channel, Chaincode: cfg.Fabric.Chaincode,
		EvaluateTimeout: cfg.Fabric.EvaluateTimeout, EndorseTimeout: cfg.Fabric.EndorseTimeout,
		SubmitTimeout: cfg.Fabric.SubmitTimeout, CommitTimeout: cfg.Fabric.CommitTimeout,
		MVCCRetries: retries(cfg.Fabric.MVCCRetries), Logger: log, Registerer: reg,
		Committed: changed.committed,
	})
	if err != nil {
		return err
	}
	defer ledger.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	jr, err := journal.Open(filepath.Join(cfg.DataDir, "journal.db"), journal.Options{TTL: cfg.IdempotencyTTL})
	if err != nil {
		return err
	}
	defer jr.Close()

	keys, err := apiKeys(cfg, members, ledger)
	if err != nil {
		return err
	}
	// Every stage may be retried after MVCC conflicts; a write waits at most
	// for all of them.
	perAttempt := cfg.Fabric.EndorseTimeout + cfg.Fabric.SubmitTimeout + cfg.Fabric.CommitTimeout
	var (
		mounts []func(*echo.Echo)
		cons   *console.Console
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Track.SecretFile != "" {
		pages, err := trackingPages(cfg, ledger, log, reg)
		if err != nil {
			return err
		}
		mounts = append(mounts, pages.Mount)
		changed.set(pages.Changed)
		go pages.Follow(ctx, func(ctx context.Context) (<-chan string, error) {
			return ledger.Changes(ctx, cfg.Track.Identity)
		}, 5*time.Second)
		if cfg.Console.Enabled {
			if cons, err = memberConsole(cfg, ledger, pages, log); err != nil {
				return err
			}
			mounts = append(mounts, cons.Mount)
		}
	}
	srv, err := api.New(api.Options{
		Mount:  mounts,
		Ledger: ledger, Journal: jr, Keys: keys, Logger: log, Registry: reg,
		MaxBodyBytes: cfg.MaxBodyBytes, CommitTimeout: perAttempt * time.Duration(cfg.Fabric.MVCCRetries+1),
		SettleAfter: perAttempt + 30*time.Second, SyncWait: cfg.SyncWait, MinBlockWait: cfg.MinBlockWait,
		CSV: api.CSVLimits{MaxBytes: cfg.CSV.MaxBytes, MaxRows: cfg.CSV.MaxRows, Batch: cfg.CSV.Batch, Sensors: cfg.CSV.Sensors},
		Limits: api.Limits{Rate: cfg.Limits.Rate, Burst: cfg.Limits.Burst, InFlight: cfg.Limits.InFlight,
			Submissions: cfg.Limits.Submissions, Queue: cfg.Limits.Queue, QueueWait: cfg.Limits.QueueWait},
		EPCIS: cfg.EPCIS.Identifiers(),
	})
	if err != nil {
		return err
	}
	if cons != nil {
		cons.Attach(srv)
	}
	var (
		cert      *certificate
		tlsConfig *tls.Config
	)
	if cfg.TLS.Enabled() {
		if cert, err = loadCertificate(cfg.TLS.Cert, cfg.TLS.Key); err != nil {
			return err
		}
		tlsConfig = cert.config()
	}
	ls := &listeners{log: log}
	defer ls.close()
	if err := ls.add("api", cfg.Listen, srv.Handler(), tlsConfig); err != nil {
		return err
	}
	if cfg.MetricsListen != "" {
		if err := ls.add("metrics", cfg.MetricsListen, srv.MetricsHandler(), tlsConfig); err != nil {
			return err
		}
	}
	r := &reloader{fs: fs, file: configFile(fs), log: log, ledger: ledger, srv: srv, cert: cert, members: members}
	go r.run()
	go purge(jr, log)
	log.Info("gateway started", "identities", len(members), "api_keys", len(keys),
		"channel", cfg.Fabric.Channel, "chaincode", cfg.Fabric.Chaincode)

	if err := ls.serve(ctx); err != nil {
		return err
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := ls.shutdown(sctx); err != nil {
		log.Error("http shutdown", "error", err.Error())
	}
	if err := srv.Close(sctx); err != nil {
		log.Warn("shutdown", "error", err.Error())
	}
	log.Info("stopped")
	return nil
}

func retries(n int) int {
	if n == 0 {
		return -1 // fabric.Options: negative disables, zero means the default
	}
	return n
}

func purge(j *journal.Journal, log *slog.Logger) {
	for {
		if n, err := j.Purge(); err != nil {
			log.Warn("journal purge", "error", err.Error())
		} else if n > 0 {
			log.Info("journal purge", "deleted", n)
		}
		time.Sleep(time.Hour)
	}
}

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// initLocal writes a gateway configuration for the local network: one
// identity per organisation (its User1, issued with role gateway) and one
// API key each. The keys go
// to a separate 0600 file; the configuration holds only their hashes. An
// existing keys file is reused, so running it again keeps callers working.
func initLocal(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("init-local", pflag.ContinueOnError)
	profile := fs.String("profile", "", "connection profile (default <home>/connection.json)")
	home := fs.String("home", envOr("SHIPTRACE_HOME", ".shiptrace"), "network data directory")
	out := fs.String("out", "", "output directory (default <home>/gateway)")
	listen := fs.String("listen", "127.0.0.1:8080", "address the gateway will listen on")
	trackSecret := fs.String("track-secret-file", "", "file with the tracking links' secret shared with the notifier; set: serve the tracking page, reading as the exporter's identity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile == "" {
		*profile = filepath.Join(*home, "connection.json")
	}
	if *out == "" {
		*out = filepath.Join(*home, "gateway")
	}
	prof, err := fabric.Load(*profile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	keysFile := filepath.Join(*out, "api-keys.env")
	keys := readEnvFile(keysFile)
	var cfg, env strings.Builder
	abs, _ := filepath.Abs(*profile)
	dataDir, _ := filepath.Abs(filepath.Join(*out, "data"))
	fmt.Fprintf(&cfg, "# Written by shiptrace-gateway init-local. API keys are in api-keys.env (hashes only here).\n")
	fmt.Fprintf(&cfg, "listen: %q\nprofile: %q\ndata_dir: %q\nidentities:\n", *listen, abs, dataDir)
	var names []string
	for _, msp := range prof.MSPIDs() {
		if _, err := prof.Orgs[msp].User("User1"); err != nil {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(msp, "MSP"))
		names = append(names, name)
		fmt.Fprintf(&cfg, "  - {name: %s, msp_id: %s, user: User1}\n", name, msp)
	}
	if len(names) == 0 {
		return errors.New("the profile has no organisation with a User1")
	}
	// Identities issued by the org CAs (`shipnet identity issue`, e.g. a
	// carrier's temperature logger with role sensor) get an identity and a key
	// each; revoked ones (marked by `shipnet identity revoke`) get neither, so
	// a running gateway, which reloads the file, stops accepting their keys.
	issued, err := filepath.Glob(filepath.Join(*home, "identities", "*", "*"))
	if err != nil {
		return err
	}
	sort.Strings(issued)
	for _, dir := range issued {
		if _, err := os.Stat(filepath.Join(dir, "revoked")); err == nil {
			continue
		}
		user, err := fabric.MSPUser(dir)
		if err != nil {
			continue // not an enrolled identity
		}
		msp, id := filepath.Base(filepath.Dir(dir)), filepath.Base(dir)
		if _, ours := prof.Orgs[msp]; !ours {
			continue // another member's identity: a member's gateway holds only its own org's keys
		}
		name := strings.ToLower(strings.TrimSuffix(msp, "MSP")) + "." + id
		names = append(names, name)
		abs := func(p string) string { a, _ := filepath.Abs(p); return a }
		fmt.Fprintf(&cfg, "  - {name: %q, msp_id: %s, cert: %q, key: %q, tls_cert: %q, tls_key: %q}\n", name, msp,
			abs(user.Cert), abs(user.Key), abs(user.TLSCert), abs(user.TLSKey))
	}
	sort.Strings(names)
	if *trackSecret != "" {
		abs, _ := filepath.Abs(*trackSecret)
		fmt.Fprintf(&cfg, "track: {secret_file: %q, identity: exporter}\nconsole: {enabled: true}\n", abs)
	}
	fmt.Fprintf(&cfg, "api_keys:\n")
	for _, name := range names {
		envName := "SHIPTRACE_API_KEY_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(name))
		key := keys[envName]
		if key == "" {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			key = "stk_" + hex.EncodeToString(b)
		}
		fmt.Fprintf(&env, "%s=%s\n", envName, key)
		fmt.Fprintf(&cfg, "  - {name: %q, identity: %q, hash: %q}\n", name, name, config.HashKey(key))
	}
	// Keys first, then the configuration: a running gateway reloads the
	// configuration when it changes, and must find it whole.
	if err := writeAtomic(keysFile, []byte(env.String())); err != nil {
		return err
	}
	cfgFile := filepath.Join(*out, "gateway.yaml")
	if err := writeAtomic(cfgFile, []byte(cfg.String())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s (keys for %s)\nrun: shiptrace-gateway --config %s\n", cfgFile, keysFile, strings.Join(names, ", "), cfgFile)
	return nil
}

// writeAtomic writes a 0600 file by renaming a complete copy over it, so a
// reader never sees it half written.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readEnvFile(path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
