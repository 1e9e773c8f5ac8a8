// Package config loads the notifier's configuration with viper from, in
// rising precedence, built-in defaults, a YAML file, SHIPTRACE_NOTIFIER_*
// environment variables and command-line flags, and validates it at start
// so a bad setting stops the notifier with a message that names the key.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/phone"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/tracklink"
)

// EnvPrefix prefixes every environment variable: sender.rate_per_second is
// SHIPTRACE_NOTIFIER_SENDER_RATE_PER_SECOND.
const EnvPrefix = "SHIPTRACE_NOTIFIER"

// Config is the notifier's whole configuration.
type Config struct {
	ExporterMSP string `mapstructure:"exporter_msp"`
	TrackingURL string `mapstructure:"tracking_url"`
	// TrackingSecret signs the tracking links (tracklink), shared with the
	// gateway that serves the page; TrackingTTL is how long a link works.
	TrackingSecret     string        `mapstructure:"tracking_secret"`
	TrackingSecretFile string        `mapstructure:"tracking_secret_file"`
	TrackingTTL        time.Duration `mapstructure:"tracking_ttl"`
	Store              struct {
		Path            string        `mapstructure:"path"`
		PhoneRefKey     string        `mapstructure:"phone_ref_key"`
		PhoneRefKeyFile string        `mapstructure:"phone_ref_key_file"`
		Retention       time.Duration `mapstructure:"retention"`
		PurgeInterval   time.Duration `mapstructure:"purge_interval"`
		CompactInterval time.Duration `mapstructure:"compact_interval"`
	} `mapstructure:"store"`
	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`
	Intake struct {
		Source      string        `mapstructure:"source"`
		File        string        `mapstructure:"file"`
		StartBlock  uint64        `mapstructure:"start_block"`
		MaxEventAge time.Duration `mapstructure:"max_event_age"`
		BackoffMin  time.Duration `mapstructure:"backoff_min"`
		BackoffMax  time.Duration `mapstructure:"backoff_max"`
		// Set-aside events (config/whatsapp.go).
		ContactGrace  time.Duration `mapstructure:"contact_grace"`
		RetryAttempts int           `mapstructure:"retry_attempts"`
	} `mapstructure:"intake"`
	Fabric struct {
		PeerEndpoint      string        `mapstructure:"peer_endpoint"`
		ServerName        string        `mapstructure:"server_name"`
		TLSCACert         string        `mapstructure:"tls_ca_cert"`
		MSPID             string        `mapstructure:"msp_id"`
		CertPath          string        `mapstructure:"cert_path"`
		KeyPath           string        `mapstructure:"key_path"`
		Channel           string        `mapstructure:"channel"`
		Chaincode         string        `mapstructure:"chaincode"`
		EvaluateTimeout   time.Duration `mapstructure:"evaluate_timeout"`
		ConnectionProfile string        `mapstructure:"connection_profile"`
		User              string        `mapstructure:"user"`
		TLSClientCert     string        `mapstructure:"tls_client_cert"`
		TLSClientKey      string        `mapstructure:"tls_client_key"`
	} `mapstructure:"fabric"`
	Contacts struct {
		Source string `mapstructure:"source"`
		File   string `mapstructure:"file"`
	} `mapstructure:"contacts"`
	Ops struct {
		Phone    string `mapstructure:"phone"`
		Language string `mapstructure:"language"`
	} `mapstructure:"ops"`
	Provider struct {
		Kind          string        `mapstructure:"kind"`
		BaseURL       string        `mapstructure:"base_url"`
		APIVersion    string        `mapstructure:"api_version"`
		PhoneNumberID string        `mapstructure:"phone_number_id"`
		Token         string        `mapstructure:"token"`
		TokenFile     string        `mapstructure:"token_file"`
		Timeout       time.Duration `mapstructure:"timeout"`
	} `mapstructure:"provider"`
	Sender struct {
		Workers              int           `mapstructure:"workers"`
		RatePerSecond        float64       `mapstructure:"rate_per_second"`
		PerRecipientInterval time.Duration `mapstructure:"per_recipient_interval"`
		DailyCap             int           `mapstructure:"daily_cap"`
		BackoffBase          time.Duration `mapstructure:"backoff_base"`
		BackoffMax           time.Duration `mapstructure:"backoff_max"`
		MaxAttempts          int           `mapstructure:"max_attempts"`
		ReconcileWindow      time.Duration `mapstructure:"reconcile_window"`
		PauseRetry           time.Duration `mapstructure:"pause_retry"`
	} `mapstructure:"sender"`
	Webhook struct {
		Addr            string   `mapstructure:"addr"`
		Path            string   `mapstructure:"path"`
		VerifyToken     string   `mapstructure:"verify_token"`
		VerifyTokenFile string   `mapstructure:"verify_token_file"`
		AppSecret       string   `mapstructure:"app_secret"`
		AppSecretFile   string   `mapstructure:"app_secret_file"`
		OptOutWords     []string `mapstructure:"opt_out_words"`
		OptInWords      []string `mapstructure:"opt_in_words"`
	} `mapstructure:"webhook"`
	Admin struct {
		Addr      string `mapstructure:"addr"`
		Token     string `mapstructure:"token"`
		TokenFile string `mapstructure:"token_file"`
	} `mapstructure:"admin"`
	Health struct {
		Addr string `mapstructure:"addr"`
	} `mapstructure:"health"`
	Policy PolicySettings `mapstructure:"policy"`
	// Anchor is the proof of notification's batching (notifier/anchor).
	Anchor struct {
		Interval  time.Duration `mapstructure:"interval"`
		MaxLeaves int           `mapstructure:"max_leaves"`
	} `mapstructure:"anchor"`
	Rules     []decide.Rule            `mapstructure:"rules"`
	Templates map[string]template.Spec `mapstructure:"templates"`
}

// Key describes one scalar setting: its name, default and meaning. The
// table is the single source for defaults, flags, env bindings and the
// README's reference.
type Key struct {
	Name    string
	Default any
	Help    string
	Secret  bool
}

// Keys lists every scalar setting.
var Keys = []Key{
	{"exporter_msp", "ExporterMSP", "MSP ID of the exporter org this notifier speaks for; other exporters' events are ignored", false},
	{"tracking_url", "", "fmt pattern with one %s, available to templates as {{.TrackingURL}}: the signed link's token when tracking_secret is set (e.g. https://gw.example/track/%s), else the shipment ID", false},
	{"tracking_secret", "", "secret (at least 32 bytes) shared with the gateway serving the tracking page; signs each message's link ({{.TrackingToken}}, the Track button's URL suffix)", true},
	{"tracking_secret_file", "", "file holding tracking_secret", false},
	{"tracking_ttl", 90 * 24 * time.Hour, "how long a tracking link works after its event (default: as long as store.retention keeps the message); 1h to 400 days", false},
	{"store.path", "notifier.db", "bbolt file holding checkpoint, outbox, opt-outs and caps", false},
	{"store.phone_ref_key", "", "secret key (at least 32 bytes) of the HMAC-SHA256 references under which numbers are filed for opt-outs and caps; required, never change it (the store refuses another key)", true},
	{"store.phone_ref_key_file", "", "file holding store.phone_ref_key", false},
	{"store.retention", 90 * 24 * time.Hour, "how long a settled notification (with the number and message it was sent with) is kept after its last change; at least 24h", false},
	{"store.purge_interval", time.Hour, "how often notifications older than store.retention are deleted", false},
	{"store.compact_interval", 10 * time.Second, "least time between two rewrites of the store file after an erasure or purge (a rewrite is what removes deleted data from the file)", false},
	{"log.level", "info", "debug, info, warn or error", false},
	{"log.format", "json", "json or text", false},
	{"intake.source", "fabric", "where events come from: fabric (peer's gateway) or file (JSON lines, followed as it grows)", false},
	{"intake.file", "", "event file for intake.source=file", false},
	{"intake.start_block", uint64(0), "block to start from when there is no checkpoint yet", false},
	{"intake.max_event_age", 7 * 24 * time.Hour, "events older than this are recorded as skipped, not sent (0: no limit)", false},
	{"intake.backoff_min", 500 * time.Millisecond, "first reconnect delay after the event stream breaks", false},
	{"intake.backoff_max", 30 * time.Second, "longest reconnect delay", false},
	{"fabric.connection_profile", "", "the network's connection.json (shipnet writes <home>/connection.json); when set, peer, TLS and user files come from it", false},
	{"fabric.user", "Notifier", "user of fabric.msp_id in the connection profile (shipnet issues Notifier with role notifier)", false},
	{"fabric.peer_endpoint", "127.0.0.1:7051", "host:port of the exporter peer's gateway service", false},
	{"fabric.server_name", "", "TLS server name of the peer when it differs from the endpoint host", false},
	{"fabric.tls_ca_cert", "", "PEM file of the peer's TLS CA", false},
	{"fabric.msp_id", "", "MSP ID of the notifier's Fabric identity (default: exporter_msp)", false},
	{"fabric.cert_path", "", "user certificate PEM file or msp/signcerts directory", false},
	{"fabric.key_path", "", "user private key PEM file or msp/keystore directory", false},
	{"fabric.tls_client_cert", "", "TLS client certificate for peers that require mutual TLS (without a profile)", false},
	{"fabric.tls_client_key", "", "TLS client key for fabric.tls_client_cert", false},
	{"fabric.channel", "supplychain", "channel name", false},
	{"fabric.chaincode", "shiptrace", "chaincode name", false},
	{"fabric.evaluate_timeout", 10 * time.Second, "timeout of the BuyerContact evaluate call", false},
	{"contacts.source", "fabric", "where buyer contacts come from: fabric (BuyerContact transaction), file, or fabric+file (file first)", false},
	{"contacts.file", "", "JSON file {shipmentId: {phone, name, language, consent}} for contacts.source file", false},
	{"ops.phone", "", "exporter operations WhatsApp number (E.164) for breach and overdue alerts", true},
	{"ops.language", "en", "language of operations alerts", false},
	{"provider.kind", "log", "whatsapp (Cloud API or the stand-in) or log (log only, sends nothing)", false},
	{"provider.base_url", "https://graph.facebook.com", "Graph API base URL; the stand-in's URL locally", false},
	{"provider.api_version", "v23.0", "Graph API version", false},
	{"provider.phone_number_id", "", "WhatsApp business phone number ID", false},
	{"provider.token", "", "access token (prefer provider.token_file or the env var)", true},
	{"provider.token_file", "", "file holding the access token, re-read on every send so a rotated token is picked up", false},
	{"provider.timeout", 10 * time.Second, "per-request timeout", false},
	{"sender.workers", 16, "concurrent sends", false},
	{"sender.rate_per_second", 80.0, "global message rate limit (Meta's default throughput is 80/s per number)", false},
	{"sender.per_recipient_interval", 6 * time.Second, "minimum gap between two messages to the same number", false},
	{"sender.daily_cap", 3, "most non-urgent buyer messages per number per local calendar day of the recipient; more are deferred to the next day, never dropped (0: no cap); operator alerts are not capped", false},
	{"sender.backoff_base", time.Second, "first retry delay for transient failures (doubles per attempt, with jitter)", false},
	{"sender.backoff_max", 5 * time.Minute, "longest retry delay", false},
	{"sender.max_attempts", 10, "attempts before a transiently failing message is marked failed", false},
	{"sender.reconcile_window", time.Minute, "how long an attempt of unknown outcome waits for a status webhook before it is resent", false},
	{"sender.pause_retry", 30 * time.Second, "how long sending pauses after a token or permission error before trying again", false},
	{"webhook.addr", "127.0.0.1:8088", "listen address of the webhook Meta calls (empty: no webhook)", false},
	{"webhook.path", "/webhook", "path of the webhook", false},
	{"webhook.verify_token", "", "token Meta echoes in the GET verification handshake", true},
	{"webhook.verify_token_file", "", "file holding webhook.verify_token", false},
	{"webhook.app_secret", "", "app secret that signs webhooks (X-Hub-Signature-256)", true},
	{"webhook.app_secret_file", "", "file holding webhook.app_secret", false},
	{"webhook.opt_out_words", []string{}, "inbound texts that opt a number out (default: STOP and equivalents in es, pt, de, fr, it, nl)", false},
	{"webhook.opt_in_words", []string{}, "inbound texts that undo an opt-out (default: START, UNSTOP, ...)", false},
	{"admin.addr", "127.0.0.1:9464", "listen address of the admin API (notification listings, /v1/status), which answers only with admin.token (empty: no admin API)", false},
	{"admin.token", "", "bearer token the admin API requires (at least 16 characters); required with admin.addr", true},
	{"admin.token_file", "", "file holding admin.token", false},
	{"health.addr", "127.0.0.1:9465", "listen address of /healthz, /readyz and /metrics, unauthenticated (they hold no personal data)", false},
	{"anchor.interval", time.Minute, "how often the message status records not yet anchored are batched into a Merkle tree whose root is recorded on the ledger (AnchorNotifications; needs a Fabric connection; 0: records are kept but not anchored)", false},
	{"anchor.max_leaves", 65536, "most status records in one anchored batch (1 to 1048576)", false},
}

// Load builds the configuration from defaults, the YAML file named by
// --config (or SHIPTRACE_NOTIFIER_CONFIG), the environment and flags.
func Load(args []string) (Config, error) {
	v := viper.New()
	fs := pflag.NewFlagSet("shiptrace-notifier", pflag.ContinueOnError)
	configFile := fs.String("config", os.Getenv(EnvPrefix+"_CONFIG"), "YAML configuration file")
	for _, k := range Keys {
		v.SetDefault(k.Name, k.Default)
		switch d := k.Default.(type) {
		case string:
			fs.String(k.Name, d, k.Help)
		case int:
			fs.Int(k.Name, d, k.Help)
		case uint64:
			fs.Uint64(k.Name, d, k.Help)
		case float64:
			fs.Float64(k.Name, d, k.Help)
		case time.Duration:
			fs.Duration(k.Name, d, k.Help)
		case []string:
			fs.StringSlice(k.Name, d, k.Help)
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	// Only flags given on the command line override; unset ones must not
	// mask the file or the environment with their defaults.
	fs.Visit(func(f *pflag.Flag) { _ = v.BindPFlag(f.Name, f) })
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if *configFile != "" {
		v.SetConfigFile(*configFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config %s: %w", *configFile, err)
		}
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	if len(c.Rules) == 0 {
		c.Rules = DefaultRules()
	}
	if len(c.Templates) == 0 {
		c.Templates = DefaultTemplates()
	}
	if c.Fabric.MSPID == "" {
		c.Fabric.MSPID = c.ExporterMSP
	}
	if err := c.loadSecrets(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// loadSecrets reads secrets given as files; the file wins over an inline
// value so a mounted secret cannot be shadowed by a stale default.
func (c *Config) loadSecrets() error {
	var errs []error
	read := func(key, path string, dst *string) {
		if path == "" {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		*dst = strings.TrimSpace(string(b))
	}
	read("webhook.verify_token_file", c.Webhook.VerifyTokenFile, &c.Webhook.VerifyToken)
	read("webhook.app_secret_file", c.Webhook.AppSecretFile, &c.Webhook.AppSecret)
	read("store.phone_ref_key_file", c.Store.PhoneRefKeyFile, &c.Store.PhoneRefKey)
	read("admin.token_file", c.Admin.TokenFile, &c.Admin.Token)
	read("tracking_secret_file", c.TrackingSecretFile, &c.TrackingSecret)
	if c.Provider.TokenFile != "" {
		// Checked here so a missing file fails at start; it is re-read per send.
		if _, err := os.Stat(c.Provider.TokenFile); err != nil {
			errs = append(errs, fmt.Errorf("provider.token_file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once, each naming its key and env var.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		errs = append(errs, fmt.Errorf("%s (%s): %s", key, env, fmt.Sprintf(format, args...)))
	}
	if c.ExporterMSP == "" {
		bad("exporter_msp", "is required")
	}
	if c.TrackingURL != "" && strings.Count(c.TrackingURL, "%s") != 1 {
		bad("tracking_url", "must contain exactly one %%s for the link's token (or the shipment ID)")
	}
	if c.TrackingSecret != "" && len(c.TrackingSecret) < tracklink.MinSecretBytes {
		bad("tracking_secret", "must be at least %d bytes, not %d", tracklink.MinSecretBytes, len(c.TrackingSecret))
	}
	if c.TrackingTTL < time.Hour || c.TrackingTTL > 400*24*time.Hour {
		bad("tracking_ttl", "must be between 1h and 400 days, not %s", c.TrackingTTL)
	}
	if c.Store.Path == "" {
		bad("store.path", "is required")
	}
	switch {
	case c.Store.PhoneRefKey == "":
		bad("store.phone_ref_key", "is required: the secret key of the references numbers are filed under; "+
			"generate one with `openssl rand -hex 32`, keep it secret and keep it (a store refuses another key)")
	case len(c.Store.PhoneRefKey) < notifier.MinRefKeyLen:
		bad("store.phone_ref_key", "must have at least %d bytes (`openssl rand -hex 32`), not %d", notifier.MinRefKeyLen, len(c.Store.PhoneRefKey))
	}
	if c.Store.Retention < 24*time.Hour {
		bad("store.retention", "must be at least 24h (daily caps count per day), not %s", c.Store.Retention)
	}
	if c.Anchor.Interval < 0 {
		bad("anchor.interval", "must not be negative (0 turns anchoring off)")
	}
	if c.Anchor.MaxLeaves < 1 || c.Anchor.MaxLeaves > 1<<20 {
		bad("anchor.max_leaves", "must be 1 to 1048576, not %d", c.Anchor.MaxLeaves)
	}
	if c.Store.PurgeInterval <= 0 {
		bad("store.purge_interval", "must be positive")
	}
	if c.Store.CompactInterval <= 0 {
		bad("store.compact_interval", "must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "must be json or text, not %q", c.Log.Format)
	}
	switch c.Intake.Source {
	case "fabric":
		if c.Fabric.ConnectionProfile != "" {
			if _, err := os.Stat(c.Fabric.ConnectionProfile); err != nil {
				bad("fabric.connection_profile", "%v", err)
			}
			break
		}
		if c.Fabric.PeerEndpoint == "" {
			bad("fabric.peer_endpoint", "is required for intake.source=fabric")
		}
		for key, val := range map[string]string{"fabric.tls_ca_cert": c.Fabric.TLSCACert, "fabric.cert_path": c.Fabric.CertPath, "fabric.key_path": c.Fabric.KeyPath} {
			if val == "" {
				bad(key, "is required for intake.source=fabric")
			} else if _, err := os.Stat(val); err != nil {
				bad(key, "%v", err)
			}
		}
	case "file":
		if c.Intake.File == "" {
			bad("intake.file", "is required for intake.source=file")
		}
	default:
		bad("intake.source", "must be fabric or file, not %q", c.Intake.Source)
	}
	if c.Intake.BackoffMin <= 0 || c.Intake.BackoffMax < c.Intake.BackoffMin {
		bad("intake.backoff_min", "must be positive and at most intake.backoff_max")
	}
	switch c.Contacts.Source {
	case "fabric":
		if c.Intake.Source != "fabric" && c.Fabric.CertPath == "" && c.Fabric.ConnectionProfile == "" {
			bad("contacts.source", "fabric needs the fabric.* connection settings")
		}
	case "file", "fabric+file":
		if c.Contacts.File == "" {
			bad("contacts.file", "is required for contacts.source=%s", c.Contacts.Source)
		} else if _, err := os.Stat(c.Contacts.File); err != nil {
			bad("contacts.file", "%v", err)
		}
	default:
		bad("contacts.source", "must be fabric, file or fabric+file, not %q", c.Contacts.Source)
	}
	if _, err := phone.Parse(c.Ops.Phone); c.Ops.Phone != "" && err != nil {
		bad("ops.phone", "must be an E.164 number like +4915112345678: %v", err)
	}
	switch c.Provider.Kind {
	case "log":
	case "whatsapp":
		if u, err := url.Parse(c.Provider.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			bad("provider.base_url", "must be an absolute URL, not %q", c.Provider.BaseURL)
		}
		if !regexp.MustCompile(`^v[0-9]+\.[0-9]+$`).MatchString(c.Provider.APIVersion) {
			bad("provider.api_version", "must look like v23.0, not %q", c.Provider.APIVersion)
		}
		if c.Provider.PhoneNumberID == "" {
			bad("provider.phone_number_id", "is required for provider.kind=whatsapp")
		}
		if c.Provider.Token == "" && c.Provider.TokenFile == "" {
			bad("provider.token", "a token or provider.token_file is required for provider.kind=whatsapp")
		}
	default:
		bad("provider.kind", "must be whatsapp or log, not %q", c.Provider.Kind)
	}
	if c.Sender.Workers < 1 {
		bad("sender.workers", "must be at least 1")
	}
	if c.Sender.RatePerSecond <= 0 {
		bad("sender.rate_per_second", "must be positive")
	}
	if c.Sender.DailyCap < 0 {
		bad("sender.daily_cap", "must not be negative")
	}
	if c.Sender.MaxAttempts < 1 {
		bad("sender.max_attempts", "must be at least 1")
	}
	if c.Sender.BackoffBase <= 0 || c.Sender.BackoffMax < c.Sender.BackoffBase {
		bad("sender.backoff_base", "must be positive and at most sender.backoff_max")
	}
	if c.Sender.ReconcileWindow <= 0 {
		bad("sender.reconcile_window", "must be positive")
	}
	if c.Sender.PauseRetry <= 0 {
		bad("sender.pause_retry", "must be positive")
	}
	if c.Webhook.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Webhook.Addr); err != nil {
			bad("webhook.addr", "%v", err)
		}
		if !strings.HasPrefix(c.Webhook.Path, "/") {
			bad("webhook.path", "must start with /")
		}
		if c.Webhook.AppSecret == "" {
			bad("webhook.app_secret", "is required when the webhook is enabled (without it no status can be trusted)")
		}
		if c.Webhook.VerifyToken == "" {
			bad("webhook.verify_token", "is required when the webhook is enabled")
		}
	}
	if c.Admin.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Addr); err != nil {
			bad("admin.addr", "%v", err)
		}
		switch {
		case c.Admin.Token == "":
			bad("admin.token", "is required when the admin API is enabled (admin.addr): its listings are personal data; "+
				"generate one with `openssl rand -hex 32`")
		case len(c.Admin.Token) < 16:
			bad("admin.token", "must have at least 16 characters")
		}
	}
	if _, port, err := net.SplitHostPort(c.Health.Addr); err != nil {
		bad("health.addr", "%v", err)
	} else if port != "0" && (c.Health.Addr == c.Admin.Addr || c.Health.Addr == c.Webhook.Addr) {
		bad("health.addr", "must differ from admin.addr and webhook.addr: health checks must not reach the admin API")
	}
	c.validatePolicy(bad)
	if r, err := template.New(c.Templates); err != nil {
		errs = append(errs, fmt.Errorf("templates: %w", err))
	} else if _, err := decide.New(decide.Config{ExporterMSP: c.ExporterMSP, Rules: c.Rules}, r); err != nil {
		errs = append(errs, fmt.Errorf("rules: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
	}
	return nil
}

func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = strings.ReplaceAll(e.Error(), "\n", "\n    ")
	}
	sort.Strings(msgs)
	return errors.New(strings.Join(msgs, "\n  "))
}

// Redacted returns a copy safe to log: secrets and the ops number masked.
func (c Config) Redacted() Config {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "***"
	}
	c.Provider.Token = mask(c.Provider.Token)
	c.Webhook.AppSecret = mask(c.Webhook.AppSecret)
	c.Webhook.VerifyToken = mask(c.Webhook.VerifyToken)
	c.Ops.Phone = mask(c.Ops.Phone)
	c.Store.PhoneRefKey = mask(c.Store.PhoneRefKey)
	c.Admin.Token = mask(c.Admin.Token)
	c.TrackingSecret = mask(c.TrackingSecret)
	return c
}
