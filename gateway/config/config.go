// Package config is the gateway's one configuration struct: read from a YAML
// file, environment variables prefixed SHIPTRACE_GATEWAY_ and command-line
// flags (each overriding the one before), defaulted, and validated at start
// so a mistake stops the gateway with a message that names the key.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/shiptrace/shiptrace/epcis"
	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/tracklink"
)

// EnvPrefix prefixes every environment variable: fabric.commit_timeout is
// SHIPTRACE_GATEWAY_FABRIC_COMMIT_TIMEOUT.
const EnvPrefix = "SHIPTRACE_GATEWAY"

// Config is everything the gateway needs.
type Config struct {
	Listen string `mapstructure:"listen"`
	// MetricsListen, when set, serves /metrics without authentication on
	// an address of its own (a private network for Prometheus); /metrics on
	// Listen always asks for an API key.
	MetricsListen string `mapstructure:"metrics_listen"`
	// TLS is the listeners' certificate. Without it the gateway speaks
	// plain HTTP, which it allows on loopback addresses only.
	TLS             TLS           `mapstructure:"tls"`
	DataDir         string        `mapstructure:"data_dir"`
	MaxBodyBytes    int64         `mapstructure:"max_body_bytes"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	LogLevel        string        `mapstructure:"log_level"`
	LogFormat       string        `mapstructure:"log_format"`
	IdempotencyTTL  time.Duration `mapstructure:"idempotency_ttl"`
	// SyncWait bounds how long a synchronous write waits for its commit
	// while its caller waits; a caller that leaves ends the wait at once.
	SyncWait time.Duration `mapstructure:"sync_wait"`
	// MinBlockWait bounds how long a request with X-Min-Block waits for
	// the organisation's peer to commit that block.
	MinBlockWait time.Duration `mapstructure:"min_block_wait"`
	// Profile is a connection profile written by `shipnet up` (or by hand);
	// identities that name a profile user take certificates and peers from it.
	Profile string `mapstructure:"profile"`
	Fabric  Fabric `mapstructure:"fabric"`
	// Identities are the Fabric identities the gateway signs with.
	Identities []Identity `mapstructure:"identities"`
	// IdentitySpecs is the compact form for flags and environment:
	// "name=MSPID/User" (from the profile).
	IdentitySpecs []string `mapstructure:"identity"`
	// APIKeys map callers to identities; only hashes are stored.
	APIKeys []APIKey `mapstructure:"api_keys"`
	// APIKeySpecs is the compact form: "name=identity=sha256:<hex>".
	APIKeySpecs []string `mapstructure:"api_key"`
	Limits      Limits   `mapstructure:"limits"`
	// Track is the public tracking page (gateway/web); without a secret the
	// gateway does not serve it.
	Track Track `mapstructure:"track"`
	// Console is the member console (gateway/console); it needs the
	// tracking page, whose detail view it shows.
	Console Console `mapstructure:"console"`
	// CSV bounds a logger's CSV file uploaded to the readings route.
	CSV CSV `mapstructure:"csv"`
	// EPCIS names members and products in EPCIS 2.0 documents
	// (README, "EPCIS 2.0").
	EPCIS EPCIS `mapstructure:"epcis"`
}

// CSV bounds logger CSV uploads (POST /v1/shipments/{id}/readings with
// Content-Type text/csv): the whole file is read and checked before any of
// it is submitted, so its size is held in memory once.
type CSV struct {
	MaxBytes int64 `mapstructure:"max_bytes"` // the file
	MaxRows  int   `mapstructure:"max_rows"`  // its data rows
	Batch    int   `mapstructure:"batch"`     // readings per transaction (1..1000)
	Sensors  int   `mapstructure:"sensors"`   // sensors uploaded side by side
}

// EPCIS configures the EPCIS identifiers. Parties are a list, not a map:
// viper folds map keys to lower case, and MSP IDs are case-sensitive.
type EPCIS struct {
	Parties  []EPCISParty        `mapstructure:"parties"`
	Products []epcis.ProductRule `mapstructure:"products"`
}

// EPCISParty gives a member its party GLN (PGLN).
type EPCISParty struct {
	MSPID string `mapstructure:"msp_id"`
	PGLN  string `mapstructure:"pgln"`
}

// Identifiers is the EPCIS section in the form the epcis package takes.
func (e EPCIS) Identifiers() epcis.Identifiers {
	ids := epcis.Identifiers{Parties: map[string]string{}, Products: e.Products}
	for _, p := range e.Parties {
		ids.Parties[p.MSPID] = p.PGLN
	}
	return ids
}

// Console configures the member console: signing in with an API key gives
// a session held in the gateway's memory (see gateway/console/README.md).
type Console struct {
	Enabled     bool          `mapstructure:"enabled"`
	SessionTTL  time.Duration `mapstructure:"session_ttl"`  // from sign-in
	IdleTimeout time.Duration `mapstructure:"idle_timeout"` // since the last request
	MaxSessions int           `mapstructure:"max_sessions"` // held in memory at once
	SignInRate  float64       `mapstructure:"signin_rate"`  // attempts per second per client address
	SignInBurst int           `mapstructure:"signin_burst"`
}

// Track configures the public tracking page. The secret is shared with the
// exporter's notifier, which signs the links; it is read from a file so it
// appears neither in the configuration nor in the process's arguments.
type Track struct {
	SecretFile string `mapstructure:"secret_file"`
	// Identity is the configured identity whose peers the page reads
	// through (its role must allow reading shipments, history, readings
	// and members).
	Identity string `mapstructure:"identity"`
}

// TrackSecret reads the tracking links' secret: the file's content without
// surrounding white space, at least tracklink.MinSecretBytes long.
func (c *Config) TrackSecret() ([]byte, error) {
	b, err := os.ReadFile(c.Track.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("track.secret_file: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < tracklink.MinSecretBytes {
		return nil, fmt.Errorf("track.secret_file: the secret has %d bytes, at least %d are needed", len(b), tracklink.MinSecretBytes)
	}
	return b, nil
}

// Limits bound what one API key, and all of them together, may ask of the
// gateway (see gateway/api.Limits). Zero disables a limit.
type Limits struct {
	Rate        float64       `mapstructure:"rate"`        // requests per second per key
	Burst       int           `mapstructure:"burst"`       // above the rate, at once
	InFlight    int           `mapstructure:"in_flight"`   // per key
	Submissions int           `mapstructure:"submissions"` // writes submitted at a time, all keys
	Queue       int           `mapstructure:"queue"`       // writes waiting for a slot
	QueueWait   time.Duration `mapstructure:"queue_wait"`  // longest wait for a slot
}

// TLS names the listeners' certificate (with its chain) and key, PEM files.
type TLS struct {
	Cert string `mapstructure:"cert"`
	Key  string `mapstructure:"key"`
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// Fabric bounds the calls to the network.
type Fabric struct {
	Channel         string        `mapstructure:"channel"`
	Chaincode       string        `mapstructure:"chaincode"`
	EvaluateTimeout time.Duration `mapstructure:"evaluate_timeout"`
	EndorseTimeout  time.Duration `mapstructure:"endorse_timeout"`
	SubmitTimeout   time.Duration `mapstructure:"submit_timeout"`
	CommitTimeout   time.Duration `mapstructure:"commit_timeout"`
	MVCCRetries     int           `mapstructure:"mvcc_retries"`
}

// Identity is one Fabric identity. Either MSPID and User name a user of the
// connection profile, or Cert, Key, TLSCert, TLSKey and Peers give the
// material directly (a member pointing the gateway at its own peers).
type Identity struct {
	Name    string `mapstructure:"name"`
	MSPID   string `mapstructure:"msp_id"`
	User    string `mapstructure:"user"`
	Cert    string `mapstructure:"cert"`
	Key     string `mapstructure:"key"`
	TLSCert string `mapstructure:"tls_cert"`
	TLSKey  string `mapstructure:"tls_key"`
	Peers   []Peer `mapstructure:"peers"`
}

// Peer is a peer endpoint; several give failover.
type Peer struct {
	Endpoint   string `mapstructure:"endpoint"`
	TLSRootCA  string `mapstructure:"tls_root_ca"`
	ServerName string `mapstructure:"server_name"`
}

// APIKey maps a caller to an identity. Hash is "sha256:" and the hex SHA-256
// of the key; the key itself is never stored.
type APIKey struct {
	Name     string `mapstructure:"name"`
	Identity string `mapstructure:"identity"`
	Hash     string `mapstructure:"hash"`
}

// Defaults are the values used when nothing sets a key.
var defaults = map[string]any{
	"listen":                  "127.0.0.1:8080",
	"metrics_listen":          "",
	"tls.cert":                "",
	"tls.key":                 "",
	"data_dir":                ".shiptrace-gateway",
	"max_body_bytes":          1 << 20,
	"shutdown_timeout":        "30s",
	"log_level":               "info",
	"log_format":              "json",
	"idempotency_ttl":         "24h",
	"sync_wait":               "60s",
	"min_block_wait":          "5s",
	"profile":                 "",
	"fabric.channel":          "supplychain",
	"fabric.chaincode":        "shiptrace",
	"fabric.evaluate_timeout": "10s",
	"fabric.endorse_timeout":  "30s",
	"fabric.submit_timeout":   "10s",
	"fabric.commit_timeout":   "60s",
	"fabric.mvcc_retries":     10,
	"limits.rate":             50,
	"limits.burst":            100,
	"limits.in_flight":        128,
	"limits.submissions":      64,
	"limits.queue":            256,
	"limits.queue_wait":       "10s",
	"identity":                []string{},
	"api_key":                 []string{},
	"track.secret_file":       "",
	"track.identity":          "",
	"console.enabled":         false,
	"console.session_ttl":     "8h",
	"console.idle_timeout":    "30m",
	"console.max_sessions":    1000,
	"console.signin_rate":     0.1,
	"console.signin_burst":    5,
	"csv.max_bytes":           32 << 20,
	"csv.max_rows":            200000,
	"csv.batch":               1000,
	"csv.sensors":             4,
}

// Flags declares the command-line flags; Load reads them.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (env SHIPTRACE_GATEWAY_CONFIG)")
	fs.String("listen", "", "address to listen on, host:port")
	fs.String("metrics-listen", "", "separate address serving /metrics without authentication, host:port")
	fs.String("tls-cert", "", "TLS certificate (PEM, with its chain) of the listeners; without it plain HTTP, on loopback only")
	fs.String("tls-key", "", "TLS private key (PEM) of the listeners")
	fs.String("data-dir", "", "directory for the journal (idempotency keys, async transactions)")
	fs.String("profile", "", "connection profile written by `shipnet up`")
	fs.String("log-level", "", "debug, info, warn or error")
	fs.String("log-format", "", "json or text")
	fs.StringArray("identity", nil, "identity from the profile, name=MSPID/User (repeatable)")
	fs.StringArray("api-key", nil, "API key, name=identity=sha256:<hex> (repeatable)")
}

// Load reads the configuration: defaults, then the YAML file (flag --config
// or SHIPTRACE_GATEWAY_CONFIG), then environment, then flags. It validates
// the result.
func Load(fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	for flag, key := range map[string]string{
		"listen": "listen", "metrics-listen": "metrics_listen", "tls-cert": "tls.cert", "tls-key": "tls.key", "data-dir": "data_dir", "profile": "profile",
		"log-level": "log_level", "log-format": "log_format", "identity": "identity", "api-key": "api_key",
	} {
		if fs == nil {
			break
		}
		if f := fs.Lookup(flag); f != nil {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, err
			}
		}
	}
	file := os.Getenv(EnvPrefix + "_CONFIG")
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	var c Config
	if err := v.UnmarshalExact(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.expandSpecs(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) expandSpecs() error {
	var errs []error
	for _, s := range c.IdentitySpecs {
		for _, s := range splitSpecs(s) {
			name, rest, ok1 := strings.Cut(s, "=")
			msp, user, ok2 := strings.Cut(rest, "/")
			if !ok1 || !ok2 {
				errs = append(errs, fmt.Errorf("identity %q: want name=MSPID/User", s))
				continue
			}
			c.Identities = append(c.Identities, Identity{Name: name, MSPID: msp, User: user})
		}
	}
	for _, s := range c.APIKeySpecs {
		for _, s := range splitSpecs(s) {
			parts := strings.SplitN(s, "=", 3)
			if len(parts) != 3 {
				errs = append(errs, fmt.Errorf("api_key %q: want name=identity=sha256:<hex>", redact(s)))
				continue
			}
			c.APIKeys = append(c.APIKeys, APIKey{Name: parts[0], Identity: parts[1], Hash: parts[2]})
		}
	}
	return errors.Join(errs...)
}

// splitSpecs accepts several specs in one value separated by commas or
// spaces, as environment variables carry them.
func splitSpecs(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

func redact(s string) string {
	if i := strings.LastIndex(s, "="); i >= 0 {
		return s[:i+1] + "..."
	}
	return "..."
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	hashPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Validate reports every problem at once, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen: %q is not host:port", c.Listen)
	} else if !c.TLS.Enabled() && !Loopback(c.Listen) {
		bad("listen: %q is not a loopback address: plain HTTP would carry API keys in clear; set tls.cert and tls.key (SHIPTRACE_GATEWAY_TLS_CERT, _KEY), or listen on 127.0.0.1", c.Listen)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen: %q is not host:port", c.MetricsListen)
		} else if c.MetricsListen == c.Listen {
			bad("metrics_listen: %q is the API's own address; leave it empty to serve /metrics there behind API keys", c.MetricsListen)
		} else if !c.TLS.Enabled() && !Loopback(c.MetricsListen) {
			bad("metrics_listen: %q is not a loopback address: set tls.cert and tls.key, or listen on 127.0.0.1", c.MetricsListen)
		}
	}
	if c.TLS.Enabled() {
		for key, path := range map[string]string{"tls.cert": c.TLS.Cert, "tls.key": c.TLS.Key} {
			if path == "" {
				bad("%s: required when %s is set", key, map[string]string{"tls.cert": "tls.key", "tls.key": "tls.cert"}[key])
			} else if _, err := os.Stat(path); err != nil {
				bad("%s: %v", key, err)
			}
		}
	}
	if c.DataDir == "" {
		bad("data_dir: required")
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 64<<20 {
		bad("max_body_bytes: %d is outside 1024..67108864", c.MaxBodyBytes)
	}
	if c.CSV.MaxBytes < 1<<10 || c.CSV.MaxBytes > 256<<20 {
		bad("csv.max_bytes: %d is outside 1024..268435456", c.CSV.MaxBytes)
	}
	if c.CSV.MaxRows < 1 || c.CSV.MaxRows > 2_000_000 {
		bad("csv.max_rows: %d is outside 1..2000000", c.CSV.MaxRows)
	}
	if c.CSV.Batch < 1 || c.CSV.Batch > 1000 {
		bad("csv.batch: %d is outside 1..1000 (the contract's largest batch)", c.CSV.Batch)
	}
	if c.CSV.Sensors < 1 || c.CSV.Sensors > 64 {
		bad("csv.sensors: %d is outside 1..64", c.CSV.Sensors)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout: must be positive")
	}
	if c.MinBlockWait <= 0 || c.MinBlockWait > time.Minute {
		bad("min_block_wait: %s is outside (0, 1m]", c.MinBlockWait)
	}
	if c.SyncWait <= 0 || c.SyncWait > 10*time.Minute {
		bad("sync_wait: %s is outside (0, 10m]", c.SyncWait)
	}
	if c.IdempotencyTTL < time.Minute {
		bad("idempotency_ttl: must be at least 1m")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("log_format: %q is not json or text", c.LogFormat)
	}
	f := c.Fabric
	if f.Channel == "" || f.Chaincode == "" {
		bad("fabric.channel and fabric.chaincode: required")
	}
	for key, d := range map[string]time.Duration{
		"fabric.evaluate_timeout": f.EvaluateTimeout, "fabric.endorse_timeout": f.EndorseTimeout,
		"fabric.submit_timeout": f.SubmitTimeout, "fabric.commit_timeout": f.CommitTimeout,
	} {
		if d <= 0 || d > 10*time.Minute {
			bad("%s: %s is outside (0, 10m]", key, d)
		}
	}
	if f.MVCCRetries < 0 || f.MVCCRetries > 20 {
		bad("fabric.mvcc_retries: %d is outside 0..20", f.MVCCRetries)
	}
	l := c.Limits
	if l.Rate < 0 || l.Burst < 0 || l.InFlight < 0 || l.Submissions < 0 || l.Queue < 0 {
		for key, v := range map[string]float64{"limits.rate": l.Rate, "limits.burst": float64(l.Burst),
			"limits.in_flight": float64(l.InFlight), "limits.submissions": float64(l.Submissions), "limits.queue": float64(l.Queue)} {
			if v < 0 {
				bad("%s: %v must not be negative (0 disables the limit)", key, v)
			}
		}
	}
	if l.QueueWait <= 0 || l.QueueWait > 5*time.Minute {
		bad("limits.queue_wait: %s is outside (0, 5m]", l.QueueWait)
	}
	if len(c.Identities) == 0 {
		bad("identities: at least one identity is required (or --identity name=MSPID/User with --profile)")
	}
	ids := map[string]bool{}
	for i, id := range c.Identities {
		at := fmt.Sprintf("identities[%d]", i)
		if !namePattern.MatchString(id.Name) {
			bad("%s.name: %q must be 1-64 letters, digits, '.', '_' or '-'", at, id.Name)
		}
		if ids[id.Name] {
			bad("%s.name: %q is used twice", at, id.Name)
		}
		ids[id.Name] = true
		if id.MSPID == "" {
			bad("%s.msp_id: required", at)
		}
		if id.User != "" {
			if c.Profile == "" {
				bad("%s.user: names a profile user, but profile is not set", at)
			}
			if id.Cert != "" || id.Key != "" {
				bad("%s: give either user (from the profile) or cert and key, not both", at)
			}
			continue
		}
		for k, path := range map[string]string{"cert": id.Cert, "key": id.Key, "tls_cert": id.TLSCert, "tls_key": id.TLSKey} {
			if path == "" {
				bad("%s.%s: required when user is not set", at, k)
			} else if _, err := os.Stat(path); err != nil {
				bad("%s.%s: %v", at, k, err)
			}
		}
		if len(id.Peers) == 0 && c.Profile == "" {
			bad("%s.peers: required when no profile is set", at)
		}
		for j, p := range id.Peers {
			if _, _, err := net.SplitHostPort(p.Endpoint); err != nil {
				bad("%s.peers[%d].endpoint: %q is not host:port", at, j, p.Endpoint)
			}
			if _, err := os.Stat(p.TLSRootCA); err != nil {
				bad("%s.peers[%d].tls_root_ca: %v", at, j, err)
			}
		}
	}
	seenParty := map[string]bool{}
	for i, p := range c.EPCIS.Parties {
		if seenParty[p.MSPID] {
			bad("epcis.parties[%d].msp_id: %s is listed twice", i, p.MSPID)
		}
		seenParty[p.MSPID] = true
	}
	if err := c.EPCIS.Identifiers().Validate(); err != nil {
		bad("%v", err)
	}
	if c.Track.SecretFile != "" {
		if _, err := c.TrackSecret(); err != nil {
			errs = append(errs, err)
		}
		if !ids[c.Track.Identity] {
			bad("track.identity: %q is not a configured identity (the tracking page reads the ledger as it)", c.Track.Identity)
		}
	} else if c.Track.Identity != "" {
		bad("track.identity: set, but track.secret_file is not: the tracking page needs the secret its links are signed with")
	}
	if c.Console.Enabled {
		if c.Track.SecretFile == "" {
			bad("console.enabled: the console shows the tracking page's detail view: set track.secret_file and track.identity")
		}
		if c.Console.SessionTTL <= 0 || c.Console.IdleTimeout <= 0 || c.Console.IdleTimeout > c.Console.SessionTTL {
			bad("console.session_ttl and console.idle_timeout: must be positive, the idle timeout at most the session's lifetime")
		}
		if c.Console.MaxSessions < 1 || c.Console.SignInRate <= 0 || c.Console.SignInBurst < 1 {
			bad("console.max_sessions, console.signin_rate and console.signin_burst: must be positive")
		}
	}
	if len(c.APIKeys) == 0 {
		bad("api_keys: at least one API key is required (nobody could call the gateway)")
	}
	names, hashes := map[string]bool{}, map[string]bool{}
	for i, k := range c.APIKeys {
		at := fmt.Sprintf("api_keys[%d]", i)
		if !namePattern.MatchString(k.Name) {
			bad("%s.name: %q must be 1-64 letters, digits, '.', '_' or '-'", at, k.Name)
		}
		if names[k.Name] {
			bad("%s.name: %q is used twice", at, k.Name)
		}
		names[k.Name] = true
		if !ids[k.Identity] {
			bad("%s.identity: %q is not a configured identity", at, k.Identity)
		}
		if !hashPattern.MatchString(k.Hash) {
			bad("%s.hash: must be sha256:<64 lower-case hex digits> (run `shiptrace-gateway hash-key`); never put the key itself here", at)
		}
		if hashes[k.Hash] {
			bad("%s.hash: the same key is configured twice", at)
		}
		hashes[k.Hash] = true
	}
	return errors.Join(errs...)
}

// Loopback reports whether addr (host:port) listens on a loopback address
// only: 127.0.0.0/8, ::1 or localhost. An empty host means every
// interface.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Members resolves the identities into the material the Fabric client needs,
// reading the connection profile where an identity names a profile user.
func (c *Config) Members() ([]fabric.Member, error) {
	var prof *fabric.Profile
	if c.Profile != "" {
		p, err := fabric.Load(c.Profile)
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		prof = p
	}
	var out []fabric.Member
	for _, id := range c.Identities {
		m := fabric.Member{Name: id.Name, MSPID: id.MSPID,
			User: fabric.User{Cert: id.Cert, Key: id.Key, TLSCert: id.TLSCert, TLSKey: id.TLSKey}}
		if prof != nil {
			if org, err := prof.Org(id.MSPID); err == nil {
				m.Peers = org.Peers
				if id.User != "" {
					u, err := org.User(id.User)
					if err != nil {
						return nil, fmt.Errorf("identity %s: %w", id.Name, err)
					}
					m.User = u
				}
			} else if id.User != "" || len(id.Peers) == 0 {
				return nil, fmt.Errorf("identity %s: %w", id.Name, err)
			}
		}
		if len(id.Peers) > 0 {
			m.Peers = nil
			for i, p := range id.Peers {
				m.Peers = append(m.Peers, fabric.Peer{Name: fmt.Sprintf("%s-peer%d", id.Name, i), Endpoint: p.Endpoint, TLSRootCA: p.TLSRootCA, ServerName: p.ServerName})
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// HashKey returns the configuration form of an API key's hash. API keys are
// long random strings, so a plain SHA-256 cannot be reversed by guessing.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
