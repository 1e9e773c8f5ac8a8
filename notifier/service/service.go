// Package service assembles the notifier from its configuration: outbox,
// event intake, sender, provider, webhook, the admin API (notification
// listings, status; behind a token) and, on a port of their own, health,
// readiness and metrics. The command only loads config and handles signals;
// tests and benchmarks build the same service with a synthetic event source.
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
	"github.com/shiptrace/shiptrace/notifier/anchor"
	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/contacts"
	"github.com/shiptrace/shiptrace/notifier/conversation"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/httpserver"
	"github.com/shiptrace/shiptrace/notifier/intake"
	"github.com/shiptrace/shiptrace/notifier/logonly"
	"github.com/shiptrace/shiptrace/notifier/metrics"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/sender"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/notifier/webhook"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
	"github.com/shiptrace/shiptrace/tracklink"
)

// Option overrides a part the configuration would otherwise build.
type Option func(*Service)

// WithSource replaces the configured event source.
func WithSource(s intake.Source) Option { return func(svc *Service) { svc.source = s } }

// WithContacts replaces the configured contact source.
func WithContacts(c notifier.ContactSource) Option { return func(svc *Service) { svc.contacts = c } }

// WithProvider replaces the configured provider.
func WithProvider(p notifier.Provider) Option { return func(svc *Service) { svc.provider = p } }

// WithAnchorLedger replaces the Fabric ledger the proof of notification's
// batch roots are recorded on.
func WithAnchorLedger(l anchor.Ledger) Option { return func(svc *Service) { svc.anchorLedger = l } }

// WithLedger replaces the conversation's ledger (otherwise the Fabric
// adapter, when one is connected).
func WithLedger(l ConversationLedger) Option { return func(svc *Service) { svc.ledger = l } }

// WithConversationClock sets the clock of the conversation's 24-hour
// window, for tests.
func WithConversationClock(now func() time.Time) Option {
	return func(svc *Service) { svc.convNow = now }
}

// ConversationLedger is what the conversation needs of the ledger: its
// reads and writes plus the claims listing of the admin API's proof.
type ConversationLedger interface {
	conversation.Ledger
	conversation.ClaimLister
}

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
	// anchorLedger records the roots of status record batches (nil: not
	// anchored, see connectFabric).
	anchorLedger anchor.Ledger
	// conversation answers buyers (nil without a WhatsApp provider or a
	// ledger); ledger is its ledger.
	conversation *conversation.Engine
	ledger       ConversationLedger
	convNow      func() time.Time
	fabric       *fabric.Client
	fabricID     string

	webhookLn, adminLn, healthLn    net.Listener
	webhookSrv, adminSrv, healthSrv *http.Server
	closers                         []func() error

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

	refs, err := notifier.NewRefKey([]byte(cfg.Store.PhoneRefKey))
	if err != nil {
		return nil, fmt.Errorf("store.phone_ref_key: %w", err)
	}
	s.store, err = outbox.Open(cfg.Store.Path, outbox.WithRefKey(refs))
	if errors.Is(err, outbox.ErrWrongRefKey) {
		return nil, fmt.Errorf("store.phone_ref_key: %w", err)
	}
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
	var links *tracklink.Signer
	if cfg.TrackingSecret != "" {
		if links, err = tracklink.New([]byte(cfg.TrackingSecret)); err != nil {
			return nil, fmt.Errorf("tracking_secret: %w", err)
		}
	}
	pol, err := cfg.BuildPolicy()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	decider, err := decide.New(decide.Config{
		ExporterMSP: cfg.ExporterMSP, Rules: cfg.Rules, Policy: pol, Refs: refs,
		OpsPhone: cfg.Ops.Phone, OpsLanguage: cfg.Ops.Language,
		TrackingURL: cfg.TrackingURL, MaxEventAge: cfg.Intake.MaxEventAge,
		Links: links, LinkTTL: cfg.TrackingTTL,
	}, renderer)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}

	// The intake reads each buyer contact once and keeps it in memory
	// until the event stream says it changed (contacts.Cache).
	cache := &contacts.Cache{Source: s.contacts}
	s.sender = sender.New(sender.Config{
		Workers: cfg.Sender.Workers, RatePerSecond: cfg.Sender.RatePerSecond,
		PerRecipientInterval: cfg.Sender.PerRecipientInterval,
		BackoffBase:          cfg.Sender.BackoffBase, BackoffMax: cfg.Sender.BackoffMax,
		MaxAttempts: cfg.Sender.MaxAttempts, ReconcileWindow: cfg.Sender.ReconcileWindow,
		PauseRetry: cfg.Sender.PauseRetry, SendTimeout: cfg.Provider.Timeout,
		Consent: sender.ContactConsent{Contacts: s.contacts, Recent: cache, FreshFor: 30 * time.Second},
		Hold:    pol.Hold,
	}, s.store, s.provider, log.With(slog.String("component", "sender")), s.metrics)

	proc := &intake.Processor{
		Decider: decider, Contacts: cache, Store: s.store,
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

	if msgr, ok := s.provider.(conversation.Messenger); ok {
		if s.ledger == nil && s.fabric != nil {
			s.ledger = &conversation.FabricLedger{Client: s.fabric, Identity: s.fabricID}
		}
		if s.ledger != nil {
			s.conversation = conversation.New(conversation.Config{
				Now: s.convNow, Links: links, TrackingURL: cfg.TrackingURL, LinkTTL: cfg.TrackingTTL,
			}, s.store, s.ledger, msgr, log.With(slog.String("component", "conversation")))
		}
	}

	if cfg.Webhook.Addr != "" {
		var conv webhook.Conversation
		if s.conversation != nil {
			conv = s.conversation
		}
		wh := webhook.New(webhook.Config{
			VerifyToken: cfg.Webhook.VerifyToken, AppSecret: cfg.Webhook.AppSecret,
			OptOutWords: nilIfEmpty(cfg.Webhook.OptOutWords), OptInWords: nilIfEmpty(cfg.Webhook.OptInWords),
			PhoneNumberID: cfg.Provider.PhoneNumberID,
			RetryAfter:    cfg.Sender.BackoffBase, MaxAttempts: cfg.Sender.MaxAttempts,
			Replies:      s.store,
			Conversation: conv,
		}, s.store, log.With(slog.String("component", "webhook")), s.metrics)
		mux := http.NewServeMux()
		mux.Handle(cfg.Webhook.Path, wh)
		if links != nil && cfg.TrackingURL != "" {
			// The Track button may point here to count opens (README, KPIs).
			mux.Handle("GET /t/{token}", clickRedirect(links, cfg.TrackingURL, renderer, s.store, log.With(slog.String("component", "clicks"))))
		}
		s.webhookLn, err = net.Listen("tcp", cfg.Webhook.Addr)
		if err != nil {
			return nil, fmt.Errorf("webhook listen %s: %w", cfg.Webhook.Addr, err)
		}
		s.webhookSrv = httpserver.New(mux, httpserver.Timeouts{})
	}
	if cfg.Admin.Addr != "" {
		s.adminLn, err = net.Listen("tcp", cfg.Admin.Addr)
		if err != nil {
			return nil, fmt.Errorf("admin listen %s: %w", cfg.Admin.Addr, err)
		}
		s.adminSrv = httpserver.New(s.adminHandler(), httpserver.Timeouts{})
	}
	s.healthLn, err = net.Listen("tcp", cfg.Health.Addr)
	if err != nil {
		return nil, fmt.Errorf("health listen %s: %w", cfg.Health.Addr, err)
	}
	s.healthSrv = httpserver.New(s.healthHandler(), httpserver.Timeouts{})
	s.metrics.CollectKPIs(s.store)
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
	// Anchoring needs an identity on the channel: it is on whenever one is
	// configured (a connection profile or certificate files).
	needAnchor := s.anchorLedger == nil && s.cfg.Anchor.Interval > 0 &&
		(s.cfg.Fabric.ConnectionProfile != "" || s.cfg.Fabric.CertPath != "")
	// The conversation reads shipments and records claims through the
	// same adapter, as the same identity.
	needLedger := s.ledger == nil && s.cfg.Provider.Kind == "whatsapp" && s.cfg.Webhook.Addr != "" &&
		(s.cfg.Intake.Source == "fabric" || strings.HasPrefix(s.cfg.Contacts.Source, "fabric"))
	if !needSource && !needContacts && !needAnchor && !needLedger {
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
	if needAnchor {
		s.anchorLedger = anchor.Fabric{Client: adapter, Identity: m.Name}
	}
	s.fabric, s.fabricID = adapter, m.Name
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

// AdminAddr is the admin API's bound address ("" if disabled).
func (s *Service) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// HealthAddr is the bound address of health, readiness and metrics.
func (s *Service) HealthAddr() string { return s.healthLn.Addr().String() }

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
	s.log.Info("notifier starting", slog.String("admin", s.AdminAddr()), slog.String("health", s.HealthAddr()),
		slog.String("webhook", s.WebhookAddr()),
		slog.String("intake", s.cfg.Intake.Source), slog.String("provider", s.cfg.Provider.Kind),
		slog.Uint64("checkpoint_block", cp.Block), slog.String("checkpoint_tx", cp.TxID))

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	servers := s.servers()
	for srv, ln := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(3)
	if s.conversation != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.conversation.Run(runCtx) }()
	}
	go func() { defer wg.Done(); _ = s.runner.Run(runCtx) }()
	go func() { defer wg.Done(); _ = s.sender.Run(runCtx) }()
	go func() { defer wg.Done(); s.maintain(runCtx) }()
	if s.anchorLedger != nil && s.cfg.Anchor.Interval > 0 {
		a := &anchor.Anchorer{Store: s.store, Ledger: s.anchorLedger, Interval: s.cfg.Anchor.Interval,
			MaxLeaves: s.cfg.Anchor.MaxLeaves, Log: s.log.With(slog.String("component", "anchor"))}
		wg.Add(1)
		go func() { defer wg.Done(); _ = a.Run(runCtx) }()
	} else {
		s.log.Warn("message status records are kept but not anchored on the ledger (anchor.interval is 0 or no Fabric identity is configured)")
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("server failed", slog.Any("error", runErr))
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	for srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	wg.Wait()
	return runErr
}

// servers are the HTTP servers New set up, with their listeners.
func (s *Service) servers() map[*http.Server]net.Listener {
	out := map[*http.Server]net.Listener{s.healthSrv: s.healthLn}
	if s.adminSrv != nil {
		out[s.adminSrv] = s.adminLn
	}
	if s.webhookSrv != nil {
		out[s.webhookSrv] = s.webhookLn
	}
	return out
}

// Close releases the store and connections.
func (s *Service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
	s.closers = nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
