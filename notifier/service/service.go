// Package service assembles the notifier from its configuration: outbox,
// event intake, sender, provider, webhook and the admin endpoints (health,
// readiness, metrics, notification listing). The command only loads config
// and handles signals; tests and benchmarks build the same service with a
// synthetic event source.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/contacts"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/intake"
	"github.com/shiptrace/shiptrace/notifier/logonly"
	"github.com/shiptrace/shiptrace/notifier/metrics"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/sender"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/notifier/webhook"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
)

// Option overrides a part the configuration would otherwise build.
type Option func(*Service)

// WithSource replaces the configured event source.
func WithSource(s intake.Source) Option { return func(svc *Service) { svc.source = s } }

// WithContacts replaces the configured contact source.
func WithContacts(c notifier.ContactSource) Option { return func(svc *Service) { svc.contacts = c } }

// WithProvider replaces the configured provider.
func WithProvider(p notifier.Provider) Option { return func(svc *Service) { svc.provider = p } }

// Service is a running notifier.
type Service struct {
	cfg      config.Config
	log      *slog.Logger
	store    *outbox.Store
	metrics  *metrics.Metrics
	sender   *sender.Sender
	runner   *intake.Runner
	source   intake.Source
	contacts notifier.ContactSource
	provider notifier.Provider

	webhookLn, adminLn net.Listener
	webhookSrv         *http.Server
	adminSrv           *http.Server
	closers            []func() error

	mu        sync.Mutex
	connected bool
	recovered int
}

// New opens the store, connects what the configuration names and binds
// the listeners (so their addresses are known before Run).
func New(cfg config.Config, log *slog.Logger, opts ...Option) (svc *Service, err error) {
	s := &Service{cfg: cfg, log: log, metrics: metrics.New()}
	for _, o := range opts {
		o(s)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.store, err = outbox.Open(cfg.Store.Path)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.store.Close)

	if err := s.connectFabric(); err != nil {
		return nil, err
	}
	if s.contacts == nil {
		if s.contacts, err = s.fileContacts(); err != nil {
			return nil, err
		}
	}
	if s.source == nil {
		s.source = intake.FileSource{Path: cfg.Intake.File}
	}
	if s.provider == nil {
		s.provider = s.configuredProvider()
	}

	renderer, err := template.New(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	decider, err := decide.New(decide.Config{
		ExporterMSP: cfg.ExporterMSP, Rules: cfg.Rules, DailyCap: cfg.Sender.DailyCap,
		OpsPhone: cfg.Ops.Phone, OpsLanguage: cfg.Ops.Language,
		TrackingURL: cfg.TrackingURL, MaxEventAge: cfg.Intake.MaxEventAge,
	}, renderer)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}

	s.sender = sender.New(sender.Config{
		Workers: cfg.Sender.Workers, RatePerSecond: cfg.Sender.RatePerSecond,
		PerRecipientInterval: cfg.Sender.PerRecipientInterval,
		BackoffBase:          cfg.Sender.BackoffBase, BackoffMax: cfg.Sender.BackoffMax,
		MaxAttempts: cfg.Sender.MaxAttempts, ReconcileWindow: cfg.Sender.ReconcileWindow,
		PauseRetry: cfg.Sender.PauseRetry, SendTimeout: cfg.Provider.Timeout,
		Consent: sender.ContactConsent{Contacts: s.contacts},
	}, s.store, s.provider, log.With(slog.String("component", "sender")), s.metrics)

	proc := &intake.Processor{
		Decider: decider, Contacts: s.contacts, Store: s.store,
		Log:          log.With(slog.String("component", "intake")),
		Observer:     s.metrics,
		Recorded:     func([]notifier.Notification) { s.sender.Wake() },
		ContactGrace: cfg.Intake.ContactGrace, RetryAttempts: cfg.Intake.RetryAttempts,
		RetryBackoffMin: cfg.Intake.BackoffMin, RetryBackoffMax: 5 * time.Minute,
	}
	s.runner = &intake.Runner{
		Source: s.source, Handler: proc, Checkpointer: s.store,
		Log:        log.With(slog.String("component", "intake")),
		BackoffMin: cfg.Intake.BackoffMin, BackoffMax: cfg.Intake.BackoffMax,
		Connected: func(c bool) {
			s.mu.Lock()
			s.connected = c
			s.mu.Unlock()
			s.metrics.Connected(c)
		},
	}

	if cfg.Webhook.Addr != "" {
		wh := webhook.New(webhook.Config{
			VerifyToken: cfg.Webhook.VerifyToken, AppSecret: cfg.Webhook.AppSecret,
			OptOutWords: nilIfEmpty(cfg.Webhook.OptOutWords), OptInWords: nilIfEmpty(cfg.Webhook.OptInWords),
			PhoneNumberID: cfg.Provider.PhoneNumberID,
			RetryAfter:    cfg.Sender.BackoffBase, MaxAttempts: cfg.Sender.MaxAttempts,
		}, s.store, log.With(slog.String("component", "webhook")), s.metrics)
		mux := http.NewServeMux()
		mux.Handle(cfg.Webhook.Path, wh)
		s.webhookLn, err = net.Listen("tcp", cfg.Webhook.Addr)
		if err != nil {
			return nil, fmt.Errorf("webhook listen %s: %w", cfg.Webhook.Addr, err)
		}
		s.webhookSrv = webhook.NewServer(mux, webhook.ServerTimeouts{})
	}
	s.adminLn, err = net.Listen("tcp", cfg.Admin.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", cfg.Admin.Addr, err)
	}
	s.adminSrv = &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// connectFabric opens the Fabric adapter when the event source or the contact
// source needs it and was not replaced by an option.
func (s *Service) connectFabric() error {
	needSource := s.source == nil && s.cfg.Intake.Source == "fabric"
	needContacts := s.contacts == nil && strings.HasPrefix(s.cfg.Contacts.Source, "fabric")
	if !needSource && !needContacts {
		return nil
	}
	f := s.cfg.Fabric
	m, err := s.fabricMember()
	if err != nil {
		return fmt.Errorf("fabric: %w", err)
	}
	adapter, err := fabric.Open([]fabric.Member{m}, fabric.Options{
		Channel: f.Channel, Chaincode: f.Chaincode, EvaluateTimeout: f.EvaluateTimeout,
		Logger: s.log.With(slog.String("component", "fabric")),
	})
	if err != nil {
		return fmt.Errorf("fabric: %w", err)
	}
	s.closers = append(s.closers, adapter.Close)
	if needSource {
		network, err := adapter.Network(m.Name)
		if err != nil {
			return fmt.Errorf("fabric: %w", err)
		}
		s.source = intake.FabricSource{Network: network, Chaincode: f.Chaincode, StartBlock: s.cfg.Intake.StartBlock}
	}
	if needContacts {
		fc := contacts.Fabric{Client: adapter, Identity: m.Name}
		if s.cfg.Contacts.Source == "fabric+file" {
			file, err := contacts.LoadFile(s.cfg.Contacts.File)
			if err != nil {
				return err
			}
			s.contacts = contacts.Chain{file, fc}
		} else {
			s.contacts = fc
		}
	}
	return nil
}

// fabricMember is the notifier's one Fabric identity: a user of the
// connection profile when one is configured, otherwise the fabric.* files.
func (s *Service) fabricMember() (fabric.Member, error) {
	const name = "notifier"
	f := s.cfg.Fabric
	if f.ConnectionProfile == "" {
		return fabric.FileMember(name, f.MSPID,
			fabric.Peer{Endpoint: f.PeerEndpoint, TLSRootCA: f.TLSCACert, ServerName: f.ServerName},
			fabric.User{Cert: f.CertPath, Key: f.KeyPath, TLSCert: f.TLSClientCert, TLSKey: f.TLSClientKey})
	}
	p, err := fabric.Load(f.ConnectionProfile)
	if err != nil {
		return fabric.Member{}, err
	}
	user := f.User
	if user == "" {
		user = "Notifier" // role notifier: reads shipments and buyer contacts only
	}
	m, err := p.Member(name, f.MSPID, user)
	if err != nil {
		return fabric.Member{}, fmt.Errorf("%s/%s from %s: %w", f.MSPID, user, f.ConnectionProfile, err)
	}
	return m, nil
}

func (s *Service) fileContacts() (notifier.ContactSource, error) {
	if s.cfg.Contacts.File == "" {
		return contacts.Chain{}, nil
	}
	return contacts.LoadFile(s.cfg.Contacts.File)
}

func (s *Service) configuredProvider() notifier.Provider {
	p := s.cfg.Provider
	if p.Kind != "whatsapp" {
		return logonly.New(s.log.With(slog.String("component", "provider")))
	}
	token := func() (string, error) { return p.Token, nil }
	if p.TokenFile != "" {
		token = func() (string, error) {
			b, err := os.ReadFile(p.TokenFile)
			if err != nil {
				return "", fmt.Errorf("read provider.token_file: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}
	}
	return whatsapp.New(p.BaseURL, p.APIVersion, p.PhoneNumberID, token,
		whatsapp.WithHTTPClient(&http.Client{Timeout: p.Timeout, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		}}))
}

// WebhookAddr is the webhook's bound address ("" if disabled).
func (s *Service) WebhookAddr() string {
	if s.webhookLn == nil {
		return ""
	}
	return s.webhookLn.Addr().String()
}

// AdminAddr is the admin endpoints' bound address.
func (s *Service) AdminAddr() string { return s.adminLn.Addr().String() }

// Store exposes the outbox, for tests.
func (s *Service) Store() *outbox.Store { return s.store }

// Run serves until ctx is done, then shuts down gracefully: in-flight
// sends finish and are recorded.
func (s *Service) Run(ctx context.Context) error {
	n, err := s.store.Recover(s.cfg.Sender.ReconcileWindow)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.recovered = n
	s.mu.Unlock()
	if n > 0 {
		s.log.Warn("attempts interrupted by the last stop: waiting for their status webhooks before resending",
			slog.Int("count", n), slog.Duration("window", s.cfg.Sender.ReconcileWindow))
	}
	cp, _ := s.store.Checkpoint()
	s.log.Info("notifier starting", slog.String("admin", s.AdminAddr()), slog.String("webhook", s.WebhookAddr()),
		slog.String("intake", s.cfg.Intake.Source), slog.String("provider", s.cfg.Provider.Kind),
		slog.Uint64("checkpoint_block", cp.Block), slog.String("checkpoint_tx", cp.TxID))

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	serve := func(srv *http.Server, ln net.Listener) {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	wg.Add(1)
	go serve(s.adminSrv, s.adminLn)
	if s.webhookSrv != nil {
		wg.Add(1)
		go serve(s.webhookSrv, s.webhookLn)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); _ = s.runner.Run(runCtx) }()
	go func() { defer wg.Done(); _ = s.sender.Run(runCtx) }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("server failed", slog.Any("error", runErr))
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	_ = s.adminSrv.Shutdown(sctx)
	if s.webhookSrv != nil {
		_ = s.webhookSrv.Shutdown(sctx)
	}
	wg.Wait()
	return runErr
}

// Close releases the store and connections.
func (s *Service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

func (s *Service) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /v1/shipments/{id}/notifications", s.handleShipmentNotifications)
	mux.HandleFunc("GET /v1/notifications/{id...}", s.handleNotification)
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.Handle("GET /v1/dead-letters", intake.DeadLetterHandler(s.store, s.log))
	return mux
}

// handleReady is 200 when the store answers and the event stream is up;
// a paused sender is reported (and makes it 503) because nothing goes out.
func (s *Service) handleReady(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	connected := s.connected
	s.mu.Unlock()
	body := map[string]any{"intakeConnected": connected}
	status := http.StatusOK
	if err := s.store.Ping(); err != nil {
		body["store"] = err.Error()
		status = http.StatusServiceUnavailable
	}
	if !connected {
		status = http.StatusServiceUnavailable
	}
	if reason := s.sender.Paused(); reason != "" {
		body["sendingPaused"] = reason
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

// View is a notification as the admin API shows it: the number masked.
type View struct {
	notifier.Notification
	Phone string `json:"phone,omitempty"`
}

// MaskPhone keeps the country prefix and last two digits.
func MaskPhone(p string) string {
	d := notifier.NormalizePhone(p)
	if len(d) < 6 {
		return strings.Repeat("*", len(d))
	}
	return "+" + d[:2] + strings.Repeat("*", len(d)-4) + d[len(d)-2:]
}

func view(n notifier.Notification) View {
	n.Message.To = ""
	return View{Notification: n, Phone: MaskPhone(n.Phone)}
}

func (s *Service) handleShipmentNotifications(w http.ResponseWriter, r *http.Request) {
	ns, err := s.store.ByShipment(r.PathValue("id"))
	if err != nil {
		s.log.Error("list notifications", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	out := make([]View, 0, len(ns))
	for _, n := range ns {
		out = append(out, view(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"shipmentId": r.PathValue("id"), "notifications": out})
}

func (s *Service) handleNotification(w http.ResponseWriter, r *http.Request) {
	n, err := s.store.Get(r.PathValue("id"))
	if errors.Is(err, outbox.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such notification"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	writeJSON(w, http.StatusOK, view(n))
}

func (s *Service) handleStatus(w http.ResponseWriter, _ *http.Request) {
	counts, err := s.store.CountByStatus()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	cp, _ := s.store.Checkpoint()
	s.mu.Lock()
	body := map[string]any{"checkpoint": cp, "intakeConnected": s.connected, "recoveredAtStart": s.recovered, "notifications": counts}
	s.mu.Unlock()
	if reason := s.sender.Paused(); reason != "" {
		body["sendingPaused"] = reason
	}
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
