package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier/config"
)

func TestReadmeDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys {
		env := config.EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(k.Name, ".", "_"))
		if !strings.Contains(string(b), "`"+k.Name+"`") || !strings.Contains(string(b), env) {
			t.Errorf("notifier/README.md does not document %s (%s)", k.Name, env)
		}
	}
}

func baseArgs(t *testing.T) []string {
	dir := t.TempDir()
	ev := filepath.Join(dir, "events.jsonl")
	ct := filepath.Join(dir, "contacts.json")
	os.WriteFile(ev, nil, 0o600)
	os.WriteFile(ct, []byte("{}"), 0o600)
	return []string{"--intake.source=file", "--intake.file=" + ev, "--contacts.source=file", "--contacts.file=" + ct,
		"--webhook.app_secret=s", "--webhook.verify_token=v",
		"--store.phone_ref_key=test-phone-reference-key-0123456", "--admin.token=test-admin-token-0123"}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "n.yaml")
	os.WriteFile(f, []byte("sender:\n  rate_per_second: 10\n  workers: 3\n  daily_cap: 5\n"), 0o600)
	t.Setenv("SHIPTRACE_NOTIFIER_SENDER_WORKERS", "7")
	t.Setenv("SHIPTRACE_NOTIFIER_SENDER_DAILY_CAP", "9")
	c, err := config.Load(append(baseArgs(t), "--config", f, "--sender.daily_cap=2"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sender.RatePerSecond != 10 || c.Sender.Workers != 7 || c.Sender.DailyCap != 2 {
		t.Errorf("rate %v (file 10), workers %d (env 7), cap %d (flag 2)", c.Sender.RatePerSecond, c.Sender.Workers, c.Sender.DailyCap)
	}
	if len(c.Rules) == 0 || len(c.Templates) == 0 {
		t.Error("default rules and templates not applied")
	}
}

func TestValidationNamesKeyAndEnv(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"whatsapp without token", []string{"--provider.kind=whatsapp", "--provider.phone_number_id=1"}, "SHIPTRACE_NOTIFIER_PROVIDER_TOKEN"},
		{"bad rate", []string{"--sender.rate_per_second=0"}, "sender.rate_per_second"},
		{"bad ops phone", []string{"--ops.phone=12345"}, "ops.phone"},
		{"ops phone outside the numbering plan", []string{"--ops.phone=+551187654321"}, "ops.phone"},
		{"unknown source", []string{"--intake.source=kafka"}, "intake.source"},
		{"webhook without secret", []string{"--webhook.app_secret="}, "webhook.app_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(append(baseArgs(t), tt.args...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c, err := config.Load(append(baseArgs(t), "--provider.token=tok123", "--ops.phone=+4915112345678"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	if r.Provider.Token == "tok123" || r.Webhook.AppSecret == "s" || r.Ops.Phone == "+4915112345678" {
		t.Errorf("redacted config leaks secrets: %+v", r)
	}
}

func TestStartRefusesAMissingOrShortPhoneReferenceKey(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{
		{"--store.phone_ref_key=", "store.phone_ref_key (SHIPTRACE_NOTIFIER_STORE_PHONE_REF_KEY): is required"},
		{"--store.phone_ref_key=0123456789", "at least 32"},
	} {
		_, err := config.Load(append(baseArgs(t), tt.arg))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", tt.arg, err, tt.want)
		}
	}
}

func TestPhoneReferenceKeyComesFromItsFileAndIsRedacted(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte("k0123456789abcdef0123456789abcdef\n"), 0o600)
	c, err := config.Load(append(baseArgs(t), "--store.phone_ref_key=", "--store.phone_ref_key_file="+key))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.PhoneRefKey != "k0123456789abcdef0123456789abcdef" {
		t.Errorf("key from file: %q", c.Store.PhoneRefKey)
	}
	if c.Redacted().Store.PhoneRefKey == c.Store.PhoneRefKey {
		t.Error("redacted configuration shows the phone reference key")
	}
}

func TestRetentionDefaultsTo90DaysAndHasAFloor(t *testing.T) {
	c, err := config.Load(baseArgs(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Retention != 90*24*time.Hour {
		t.Errorf("default retention %s, want 90 days", c.Store.Retention)
	}
	if _, err := config.Load(append(baseArgs(t), "--store.retention=1h")); err == nil || !strings.Contains(err.Error(), "store.retention") {
		t.Errorf("a 1h retention (shorter than a cap's day): %v", err)
	}
}

func TestAdminAPINeedsItsTokenAndHealthItsOwnPort(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin.token="}, "admin.token (SHIPTRACE_NOTIFIER_ADMIN_TOKEN): is required"},
		{[]string{"--admin.token=short"}, "at least 16"},
		{[]string{"--admin.addr=127.0.0.1:9464", "--health.addr=127.0.0.1:9464"}, "health.addr"},
	} {
		_, err := config.Load(append(baseArgs(t), tt.args...))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one saying %q", tt.args, err, tt.want)
		}
	}
	c, err := config.Load(append(baseArgs(t), "--admin.addr=", "--admin.token="))
	if err != nil {
		t.Errorf("admin API disabled, no token: %v", err)
	}
	if c.Health.Addr != "127.0.0.1:9465" {
		t.Errorf("health.addr defaults to %q", c.Health.Addr)
	}
}

func TestAdminTokenComesFromItsFileAndIsRedacted(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("admin-token-0123456789\n"), 0o600)
	c, err := config.Load(append(baseArgs(t), "--admin.token=", "--admin.token_file="+token))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Token != "admin-token-0123456789" {
		t.Errorf("token from file: %q", c.Admin.Token)
	}
	if c.Redacted().Admin.Token == c.Admin.Token {
		t.Error("redacted configuration shows the admin token")
	}
}

func TestTrackingSecretIsLongAndNeverShown(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("9f", 32)
	f := filepath.Join(dir, "tracking-secret")
	os.WriteFile(f, []byte(secret+"\n"), 0o600)
	c, err := config.Load(append(baseArgs(t), "--tracking_secret_file="+f))
	if err != nil {
		t.Fatal(err)
	}
	if c.TrackingSecret != secret || c.TrackingTTL != 90*24*time.Hour {
		t.Errorf("secret %d bytes, ttl %s; want the file's 64 and 90 days", len(c.TrackingSecret), c.TrackingTTL)
	}
	if r := c.Redacted(); r.TrackingSecret == secret {
		t.Error("Redacted shows the tracking secret")
	}
	_, err = config.Load(append(baseArgs(t), "--tracking_secret=short-secret", "--tracking_ttl=10m"))
	for _, want := range []string{"tracking_secret (SHIPTRACE_NOTIFIER_TRACKING_SECRET)", "tracking_ttl (SHIPTRACE_NOTIFIER_TRACKING_TTL)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "short-secret") {
		t.Error("the error repeats the secret")
	}
}

func TestRuleVariantsLoadFromYAML(t *testing.T) {
	f := filepath.Join(t.TempDir(), "n.yaml")
	os.WriteFile(f, []byte(`rules:
  - event: shipment.shipped
    to: buyer
    variants:
      - {name: A, template: shipment_shipped, weight: 80}
      - {name: B, template: shipment_shipped_v2, weight: 20}
  - {event: shipment.delivered, to: buyer, template: shipment_delivered}
`), 0o600)
	c, err := config.Load(append(baseArgs(t), "--config", f))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rules) != 2 || len(c.Rules[0].Variants) != 2 || c.Rules[0].Variants[1].Weight != 20 || c.Rules[1].Template != "shipment_delivered" {
		t.Errorf("rules %+v", c.Rules)
	}
	os.WriteFile(f, []byte("rules:\n  - {event: shipment.shipped, to: buyer, variants: [{name: A, template: shipment_shipped, weight: 0}]}\n"), 0o600)
	if _, err := config.Load(append(baseArgs(t), "--config", f)); err == nil || !strings.Contains(err.Error(), "weight") {
		t.Errorf("a variant of weight 0: %v", err)
	}
	if _, err := config.Load(append(baseArgs(t), "--policy.quiet_hours=21-8")); err == nil || !strings.Contains(err.Error(), "SHIPTRACE_NOTIFIER_POLICY_QUIET_HOURS") {
		t.Errorf("bad quiet hours: %v", err)
	}
}
