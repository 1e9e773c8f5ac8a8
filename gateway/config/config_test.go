package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs)
}

func TestFileThenEnvironmentThenFlags(t *testing.T) {
	dir := t.TempDir()
	pem := writeFile(t, dir, "x.pem", "x")
	hash := HashKey("a-long-random-api-key-0001")
	file := writeFile(t, dir, "gw.yaml", `
listen: "127.0.0.1:9000"
data_dir: `+dir+`
fabric:
  commit_timeout: 45s
identities:
  - name: exporter
    msp_id: ExporterMSP
    cert: `+pem+`
    key: `+pem+`
    tls_cert: `+pem+`
    tls_key: `+pem+`
    peers:
      - {endpoint: "127.0.0.1:7051", tls_root_ca: `+pem+`, server_name: peer0}
      - {endpoint: "127.0.0.1:8051", tls_root_ca: `+pem+`}
api_keys:
  - {name: erp, identity: exporter, hash: "`+hash+`"}
`)
	t.Setenv("SHIPTRACE_GATEWAY_FABRIC_MVCC_RETRIES", "5")
	t.Setenv("SHIPTRACE_GATEWAY_LISTEN", "127.0.0.1:9100")
	c, err := load(t, "--config", file, "--listen", "127.0.0.1:9200")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9200" {
		t.Errorf("listen %s: the flag must win", c.Listen)
	}
	if c.Fabric.MVCCRetries != 5 || c.Fabric.CommitTimeout != 45*time.Second || c.Fabric.EndorseTimeout != 30*time.Second {
		t.Errorf("fabric %+v", c.Fabric)
	}
	if len(c.Identities) != 1 || len(c.Identities[0].Peers) != 2 || c.APIKeys[0].Hash != hash {
		t.Errorf("identities %+v keys %+v", c.Identities, c.APIKeys)
	}
	m, err := c.Members()
	if err != nil || len(m) != 1 || len(m[0].Peers) != 2 || m[0].Peers[0].ServerName != "peer0" {
		t.Fatalf("members %+v %v", m, err)
	}
}

func TestCompactFormsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	prof := writeFile(t, dir, "connection.json", `{}`)
	t.Setenv("SHIPTRACE_GATEWAY_PROFILE", prof)
	t.Setenv("SHIPTRACE_GATEWAY_DATA_DIR", dir)
	t.Setenv("SHIPTRACE_GATEWAY_IDENTITY", "exporter=ExporterMSP/User1 carrier=CarrierMSP/User1")
	t.Setenv("SHIPTRACE_GATEWAY_API_KEY", "erp=exporter="+HashKey("k1-0123456789abcdef")+",tms=carrier="+HashKey("k2-0123456789abcdef"))
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Identities) != 2 || c.Identities[1].MSPID != "CarrierMSP" || c.Identities[1].User != "User1" || len(c.APIKeys) != 2 {
		t.Fatalf("identities %+v keys %+v", c.Identities, c.APIKeys)
	}
}

func TestValidationNamesEveryBadKey(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "gw.yaml", `
listen: "nonsense"
log_level: loud
fabric:
  mvcc_retries: 99
identities:
  - {name: exporter, msp_id: ExporterMSP, cert: /no/such/file}
api_keys:
  - {name: erp, identity: nobody, hash: "plaintext-key"}
`)
	_, err := load(t, "--config", file)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"listen:", "log_level:", "fabric.mvcc_retries:", "identities[0].cert:", "identities[0].key:",
		"api_keys[0].identity:", "api_keys[0].hash:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "plaintext-key") {
		t.Error("the error repeats a secret")
	}
}

func TestUnknownKeysAreRefused(t *testing.T) {
	file := writeFile(t, t.TempDir(), "gw.yaml", "listne: 127.0.0.1:1\n")
	if _, err := load(t, "--config", file); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Fatalf("typo accepted: %v", err)
	}
}

func TestLimitsHaveDefaultsAndBounds(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SHIPTRACE_GATEWAY_PROFILE", writeFile(t, dir, "connection.json", `{}`))
	t.Setenv("SHIPTRACE_GATEWAY_DATA_DIR", dir)
	t.Setenv("SHIPTRACE_GATEWAY_IDENTITY", "exporter=ExporterMSP/User1")
	t.Setenv("SHIPTRACE_GATEWAY_API_KEY", "erp=exporter="+HashKey("k1-0123456789abcdef"))
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{Rate: 50, Burst: 100, InFlight: 128, Submissions: 64, Queue: 256, QueueWait: 10 * time.Second}
	if c.Limits != want {
		t.Errorf("default limits %+v, want %+v", c.Limits, want)
	}
	if c.SyncWait != time.Minute {
		t.Errorf("sync_wait %s, want 1m", c.SyncWait)
	}
	t.Setenv("SHIPTRACE_GATEWAY_LIMITS_RATE", "-1")
	t.Setenv("SHIPTRACE_GATEWAY_LIMITS_QUEUE_WAIT", "0s")
	_, err = load(t)
	for _, key := range []string{"limits.rate:", "limits.queue_wait:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v lacks %q", err, key)
		}
	}
}

// TestPlainHTTPOnLoopbackOnly: without a TLS certificate the gateway may
// listen on loopback only; anywhere else it refuses to start, naming the
// keys to set.
func TestPlainHTTPOnLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	pem := writeFile(t, dir, "x.pem", "x")
	t.Setenv("SHIPTRACE_GATEWAY_PROFILE", writeFile(t, dir, "connection.json", `{}`))
	t.Setenv("SHIPTRACE_GATEWAY_DATA_DIR", dir)
	t.Setenv("SHIPTRACE_GATEWAY_IDENTITY", "exporter=ExporterMSP/User1")
	t.Setenv("SHIPTRACE_GATEWAY_API_KEY", "erp=exporter="+HashKey("k1-0123456789abcdef"))
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"plain on 127.0.0.1", []string{"--listen", "127.0.0.1:8080"}, nil},
		{"plain on localhost", []string{"--listen", "localhost:8080"}, nil},
		{"plain on ::1", []string{"--listen", "[::1]:8080"}, nil},
		{"plain on every interface", []string{"--listen", "0.0.0.0:8443"}, []string{"listen:", "tls.cert"}},
		{"plain on an empty host", []string{"--listen", ":8443"}, []string{"listen:"}},
		{"plain on a public address", []string{"--listen", "192.0.2.10:8443"}, []string{"listen:"}},
		{"plain metrics on every interface", []string{"--listen", "127.0.0.1:8080", "--metrics-listen", "0.0.0.0:9464"}, []string{"metrics_listen:"}},
		{"TLS on every interface", []string{"--listen", "0.0.0.0:8443", "--tls-cert", pem, "--tls-key", pem}, nil},
		{"a certificate without its key", []string{"--listen", "127.0.0.1:8443", "--tls-cert", pem}, []string{"tls.key:"}},
		{"a certificate that is not there", []string{"--listen", "127.0.0.1:8443", "--tls-cert", "/no/such.pem", "--tls-key", pem}, []string{"tls.cert:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args...)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v lacks %q", err, want)
				}
			}
		})
	}
}

func TestTrackingPageNeedsALongSecretAndAKnownIdentity(t *testing.T) {
	dir := minimalEnv(t)
	long := writeFile(t, dir, "secret", strings.Repeat("ab", 32)+"\n")
	short := writeFile(t, dir, "short", "0123456789\n")

	t.Setenv("SHIPTRACE_GATEWAY_TRACK_SECRET_FILE", long)
	t.Setenv("SHIPTRACE_GATEWAY_TRACK_IDENTITY", "exporter")
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.TrackSecret(); err != nil || string(s) != strings.Repeat("ab", 32) {
		t.Fatalf("secret %q, %v (want the file's content without the newline)", s, err)
	}
	t.Setenv("SHIPTRACE_GATEWAY_TRACK_SECRET_FILE", short)
	t.Setenv("SHIPTRACE_GATEWAY_TRACK_IDENTITY", "auditor")
	_, err = load(t)
	for _, want := range []string{"track.secret_file: the secret has 10 bytes", `track.identity: "auditor"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "0123456789") {
		t.Error("the error repeats the secret")
	}
	t.Setenv("SHIPTRACE_GATEWAY_TRACK_SECRET_FILE", "")
	if c, err := load(t); err == nil || c != nil {
		t.Error("track.identity without a secret was accepted")
	}
}

func TestConsoleHasBoundedDefaultsAndNeedsTheTrackingPage(t *testing.T) {
	dir := minimalEnv(t)
	t.Setenv("SHIPTRACE_GATEWAY_CONSOLE_ENABLED", "true")
	if _, err := load(t); err == nil || !strings.Contains(err.Error(), "console.enabled: the console shows the tracking page's detail view") {
		t.Fatalf("a console without the tracking page: %v", err)
	}
	t.Setenv("SHIPTRACE_GATEWAY_TRACK_SECRET_FILE", writeFile(t, dir, "secret", strings.Repeat("ab", 32)))
	t.Setenv("SHIPTRACE_GATEWAY_TRACK_IDENTITY", "exporter")
	c, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	want := Console{Enabled: true, SessionTTL: 8 * time.Hour, IdleTimeout: 30 * time.Minute, MaxSessions: 1000, SignInRate: 0.1, SignInBurst: 5}
	if c.Console != want {
		t.Errorf("console %+v, want %+v", c.Console, want)
	}
	t.Setenv("SHIPTRACE_GATEWAY_CONSOLE_IDLE_TIMEOUT", "9h")
	t.Setenv("SHIPTRACE_GATEWAY_CONSOLE_MAX_SESSIONS", "0")
	_, err = load(t)
	for _, want := range []string{"console.session_ttl and console.idle_timeout", "console.max_sessions"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// minimalEnv sets the least a valid configuration needs in the environment
// (a profile, a data directory, one identity and one key) and returns the
// directory its files are in.
func minimalEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("SHIPTRACE_GATEWAY_PROFILE", writeFile(t, dir, "connection.json", `{}`))
	t.Setenv("SHIPTRACE_GATEWAY_DATA_DIR", dir)
	t.Setenv("SHIPTRACE_GATEWAY_IDENTITY", "exporter=ExporterMSP/User1")
	t.Setenv("SHIPTRACE_GATEWAY_API_KEY", "erp=exporter="+HashKey("k1-0123456789abcdef"))
	return dir
}

func TestEPCISIdentifiersAreCheckedAndKeepTheMSPIDsCase(t *testing.T) {
	dir := t.TempDir()
	pem := writeFile(t, dir, "x.pem", "x")
	base := "data_dir: " + dir + "\nidentities:\n  - {name: e, msp_id: ExporterMSP, cert: " + pem + ", key: " + pem +
		", tls_cert: " + pem + ", tls_key: " + pem + ", peers: [{endpoint: \"127.0.0.1:7051\", tls_root_ca: " + pem + "}]}\n" +
		"api_keys:\n  - {name: erp, identity: e, hash: \"" + HashKey("a-long-random-api-key-0001") + "\"}\n"
	good := writeFile(t, dir, "good.yaml", base+`epcis:
  parties:
    - {msp_id: ExporterMSP, pgln: "4012345000009"}
  products:
    - {sku: COF-1, gtin: "4006381333931"}
    - {gtin: "4012345000016", form: lgtin_urn, company_prefix_length: 7}
`)
	c, err := load(t, "--config", good)
	if err != nil {
		t.Fatal(err)
	}
	if ids := c.EPCIS.Identifiers(); ids.Party("ExporterMSP") != "https://id.gs1.org/417/4012345000009" || len(ids.Products) != 2 ||
		ids.Products[1].CompanyPrefixLength != 7 {
		t.Fatalf("identifiers %+v", ids)
	}
	bad := writeFile(t, dir, "bad.yaml", base+`epcis:
  parties:
    - {msp_id: ExporterMSP, pgln: "4012345000008"}
`)
	if _, err := load(t, "--config", bad); err == nil || !strings.Contains(err.Error(), "epcis.parties.ExporterMSP") {
		t.Fatalf("bad check digit: %v", err)
	}
	form := writeFile(t, dir, "form.yaml", base+"epcis:\n  products:\n    - {gtin: \"4012345000016\", form: lgtin_urn}\n")
	if _, err := load(t, "--config", form); err == nil || !strings.Contains(err.Error(), "epcis.products[0].company_prefix_length") {
		t.Fatalf("urn without prefix length: %v", err)
	}
}
