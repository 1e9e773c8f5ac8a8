// Command wa-standin runs the local WhatsApp Cloud API stand-in, for the
// local quick start and for tests that drive it over HTTP.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wa-standin:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run() error {
	var (
		addr        = flag.String("addr", env("WA_STANDIN_ADDR", "127.0.0.1:8089"), "listen address")
		token       = flag.String("token", env("WA_STANDIN_TOKEN", "standin-token"), "bearer token requests must carry")
		phoneID     = flag.String("phone-number-id", env("WA_STANDIN_PHONE_NUMBER_ID", "100000000000001"), "business phone number ID")
		appSecret   = flag.String("app-secret", env("WA_STANDIN_APP_SECRET", "standin-app-secret"), "app secret used to sign webhooks")
		webhookURL  = flag.String("webhook-url", env("WA_STANDIN_WEBHOOK_URL", ""), "where to post status webhooks (empty: none)")
		autoStatus  = flag.String("auto-status", env("WA_STANDIN_AUTO_STATUS", "sent,delivered,read"), "statuses posted for each accepted message, comma-separated (empty: none)")
		statusDelay = flag.Duration("status-delay", 200*time.Millisecond, "delay before each automatic status")
		templates   = flag.String("templates", env("WA_STANDIN_TEMPLATES", ""), "JSON file {name: {languages: [..], bodyParams: n, buttons: [{subType, index}]}} of approved templates (empty: the notifier's defaults; any: accept any)")
		pairEvery   = flag.Duration("pair-interval", 0, "business/consumer pair limit: after -pair-burst messages to one user, one per interval, else 131056 (0: no limit)")
		pairBurst   = flag.Int("pair-burst", 45, "messages to one user before -pair-interval applies")
		undeliver   = flag.String("undeliverable", env("WA_STANDIN_UNDELIVERABLE", ""), "comma-separated numbers answered with 131026")
	)
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	cfg := wastandin.Config{
		Token: *token, PhoneNumberID: *phoneID, AppSecret: *appSecret,
		WebhookURL: *webhookURL, StatusDelay: *statusDelay, Log: log,
		AutoStatuses: splitList(*autoStatus), Undeliverable: splitList(*undeliver),
	}
	cfg.PairInterval, cfg.PairBurst = *pairEvery, *pairBurst
	if *templates == "any" {
		cfg.AnyTemplate = true
	} else if *templates != "" {
		b, err := os.ReadFile(*templates)
		if err != nil {
			return fmt.Errorf("read templates: %w", err)
		}
		if err := json.Unmarshal(b, &cfg.Templates); err != nil {
			return fmt.Errorf("parse templates %s: %w", *templates, err)
		}
	}
	s := wastandin.New(cfg)
	defer s.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("WhatsApp Cloud API stand-in listening", slog.String("addr", ln.Addr().String()),
		slog.String("phone_number_id", *phoneID), slog.String("webhook_url", *webhookURL))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
