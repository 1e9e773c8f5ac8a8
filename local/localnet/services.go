package localnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/identity/plan"
	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
)

// The services run beside the network in the quick start: one REST gateway
// holding the three members' identities (one API key each), the exporter's
// notifier, and the local WhatsApp Cloud API stand-in when no real
// credentials are configured. Like the nodes, they are processes with PID
// files and logs under the data directory.

// Real WhatsApp Cloud API credentials, read from the environment. When the
// token is unset the stand-in is started instead.
const (
	EnvWhatsAppToken   = "SHIPTRACE_WHATSAPP_TOKEN"
	EnvWhatsAppPhoneID = "SHIPTRACE_WHATSAPP_PHONE_NUMBER_ID"
	EnvWhatsAppSecret  = "SHIPTRACE_WHATSAPP_APP_SECRET"
	EnvWhatsAppVerify  = "SHIPTRACE_WHATSAPP_VERIFY_TOKEN"
	EnvOpsPhone        = "SHIPTRACE_OPS_PHONE"
)

// The stand-in's defaults (see local/wastandin).
const (
	standinToken   = "standin-token"
	standinPhoneID = "100000000000001"
	standinSecret  = "standin-app-secret"
	// localOpsPhone receives the exporter's operations alerts locally.
	localOpsPhone = "+4915100000001"
)

// Service ports, counted from the layout's first service port.

// GatewayURL is where the gateway serves: HTTPS once `up` issued its
// certificate (a network with Fabric CAs), plain HTTP on loopback otherwise
// (cryptogen has no CA to issue one).
func (n *Network) GatewayURL() string {
	if _, err := os.Stat(n.GatewayCA()); err == nil {
		return "https://" + n.addr(0)
	}
	return "http://" + n.addr(0)
}

// GatewayCA is the root certificate clients trust the gateway's certificate
// with: the exporter organisation's TLS CA (curl --cacert).
func (n *Network) GatewayCA() string { return filepath.Join(n.gatewayTLSDir(), "ca.crt") }

func (n *Network) gatewayTLSDir() string   { return filepath.Join(n.gatewayDir(), "tls") }
func (n *Network) NotifierURL() string     { return "http://" + n.addr(11) }
func (n *Network) WebhookURL() string      { return "http://" + n.addr(10) + "/webhook" }
func (n *Network) StandinURL() string      { return "http://" + n.addr(20) }
func (n *Network) addr(i int) string       { return "127.0.0.1:" + strconv.Itoa(n.Layout.ServicePort(i)) }
func (n *Network) serviceDir() string      { return filepath.Join(n.Layout.Home, "services") }
func (n *Network) useStandin() bool        { return os.Getenv(EnvWhatsAppToken) == "" }
func (n *Network) binPath(b string) string { return filepath.Join(n.helperBinDir(), b) }

// NotifierHealthURL serves the notifier's /healthz, /readyz and /metrics;
// NotifierURL is its admin API, which needs NotifierAdminToken.
func (n *Network) NotifierHealthURL() string { return "http://" + n.addr(12) }

// service is one process of the quick start.
type service struct {
	name     string
	pkg      string // Go package of its command
	bin      string
	args     []string
	env      []string
	prepare  []string // arguments of a run of the same command before the start
	health   string   // URL that answers 200 once it serves
	healthCA string   // root certificate of an https health URL
}

// APIKeys are the local members' gateway keys, by member (exporter, carrier,
// retailer), read from the api-keys.env that `shiptrace-gateway init-local`
// writes once per data directory (0600) and keeps.
func (n *Network) APIKeys() (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(n.gatewayDir(), "api-keys.env"))
	if err != nil {
		return nil, fmt.Errorf("gateway API keys: %w", err)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			if member, ok := strings.CutPrefix(k, "SHIPTRACE_API_KEY_"); ok {
				keys[strings.ToLower(member)] = v
			}
		}
	}
	return keys, nil
}

func (n *Network) gatewayDir() string { return filepath.Join(n.serviceDir(), "gateway") }

func (n *Network) services() ([]service, error) {
	profile := n.Layout.ConnectionProfile()
	trackSecret, err := n.trackingSecretFile()
	if err != nil {
		return nil, err
	}
	// One gateway process holds the three members' identities (User1 of each
	// org), one API key each; its configuration comes from init-local.
	gw := service{name: "gateway", pkg: "./gateway/cmd/shiptrace-gateway", bin: "shiptrace-gateway",
		prepare: []string{"init-local", "--home", n.Layout.Home, "--profile", profile, "--out", n.gatewayDir(), "--listen", n.addr(0),
			"--track-secret-file", trackSecret},
		args:   []string{"serve", "--config", filepath.Join(n.gatewayDir(), "gateway.yaml")},
		health: n.GatewayURL() + "/healthz"}
	if _, err := os.Stat(n.GatewayCA()); err == nil {
		gw.args = append(gw.args, "--tls-cert", filepath.Join(n.gatewayTLSDir(), "server.crt"),
			"--tls-key", filepath.Join(n.gatewayTLSDir(), "server.key"))
		gw.healthCA = n.GatewayCA()
	}

	token, phoneID, secret, verify := standinToken, standinPhoneID, standinSecret, "local-verify-token"
	baseURL, opsPhone := n.StandinURL(), localOpsPhone
	if !n.useStandin() {
		token, phoneID, secret = os.Getenv(EnvWhatsAppToken), os.Getenv(EnvWhatsAppPhoneID), os.Getenv(EnvWhatsAppSecret)
		verify, opsPhone, baseURL = os.Getenv(EnvWhatsAppVerify), os.Getenv(EnvOpsPhone), "https://graph.facebook.com"
		if phoneID == "" || secret == "" || verify == "" {
			return nil, fmt.Errorf("%s is set: also set %s, %s and %s", EnvWhatsAppToken, EnvWhatsAppPhoneID, EnvWhatsAppSecret, EnvWhatsAppVerify)
		}
	}
	refKeyFile, adminTokenFile, err := n.notifierSecrets()
	if err != nil {
		return nil, err
	}
	notifier := service{name: "notifier", pkg: "./notifier/cmd/shiptrace-notifier", bin: "shiptrace-notifier",
		args: []string{"--fabric.connection_profile", profile, "--contacts.source", "fabric",
			"--provider.kind", "whatsapp", "--provider.base_url", baseURL, "--provider.phone_number_id", phoneID,
			"--store.path", filepath.Join(n.notifierDir(), "notifier.db"), "--store.phone_ref_key_file", refKeyFile,
			"--webhook.addr", n.addr(10), "--admin.addr", n.addr(11), "--admin.token_file", adminTokenFile,
			"--health.addr", n.addr(12), "--anchor.interval", "2s", // proofs of notification within seconds on the local network
			"--tracking_url", n.GatewayURL() + "/track/%s", "--tracking_secret_file", trackSecret},
		env: []string{"SHIPTRACE_NOTIFIER_PROVIDER_TOKEN=" + token, "SHIPTRACE_NOTIFIER_WEBHOOK_APP_SECRET=" + secret,
			"SHIPTRACE_NOTIFIER_WEBHOOK_VERIFY_TOKEN=" + verify},
		health: n.NotifierHealthURL() + "/healthz"}
	if opsPhone != "" { // no operations number: no breach alerts to the exporter
		notifier.env = append(notifier.env, "SHIPTRACE_NOTIFIER_OPS_PHONE="+opsPhone)
	}
	var out []service
	if n.useStandin() {
		out = append(out, service{name: "wa-standin", pkg: "./local/wastandin/cmd/wa-standin", bin: "wa-standin",
			args: []string{"-addr", n.addr(20), "-token", token, "-phone-number-id", phoneID,
				"-app-secret", secret, "-webhook-url", n.WebhookURL()},
			health: n.StandinURL() + "/_standin/messages"})
	}
	return append(out, gw, notifier), nil
}

// ServiceNames lists the quick start's processes, for status and stop.
func (n *Network) ServiceNames() []string { return []string{"wa-standin", "gateway", "notifier"} }

// buildServices compiles the services' commands.
func (n *Network) buildServices(ctx context.Context) error {
	svcs, err := n.services()
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if err := n.goBuild(ctx, s.pkg, n.binPath(s.bin)); err != nil {
			return err
		}
	}
	return nil
}

// StartServices starts every service that is not running and waits until
// each answers its health check.
func (n *Network) StartServices(ctx context.Context) error {
	if err := n.issueGatewayTLS(ctx); err != nil {
		return err
	}
	svcs, err := n.services()
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if _, ok := proc.Running(n.Layout.PIDFile(s.name)); ok {
			continue
		}
		for _, dir := range []string{"gateway", "notifier"} {
			if err := os.MkdirAll(filepath.Join(n.serviceDir(), dir), 0o700); err != nil {
				return err
			}
		}
		if s.prepare != nil {
			cmd := exec.CommandContext(ctx, n.binPath(s.bin), s.prepare...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s %s: %w: %s", s.bin, s.prepare[0], err, out)
			}
		}
		_, err := proc.Start(proc.Spec{Name: s.name, Path: n.binPath(s.bin), Args: s.args,
			Env: append(n.baseEnv(), s.env...), Dir: n.serviceDir(),
			LogFile: n.Layout.LogFile(s.name), PIDFile: n.Layout.PIDFile(s.name)})
		if err != nil {
			return err
		}
		if err := retry(ctx, 60*time.Second, func(ctx context.Context) error {
			if _, ok := proc.Running(n.Layout.PIDFile(s.name)); !ok {
				return n.exited(s.name)
			}
			if err := httpOK(ctx, s.health, s.healthCA); err != nil {
				return fmt.Errorf("%s not healthy (%v); see %s", s.name, err, n.Layout.LogFile(s.name))
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// httpOK asks url for a 200, trusting caFile's root for https when set.
func httpOK(ctx context.Context, url, caFile string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	hc, err := httpClient(2*time.Second, caFile)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// httpClient trusts caFile's root for https (the system's roots when
// caFile is "").
func httpClient(timeout time.Duration, caFile string) (*http.Client, error) {
	hc := &http.Client{Timeout: timeout}
	if caFile != "" {
		cfg, err := fabric.TLSConfig(fabric.Peer{Name: "gateway", TLSRootCA: caFile}, fabric.User{})
		if err != nil {
			return nil, err
		}
		hc.Transport = &http.Transport{TLSClientConfig: cfg}
	}
	return hc, nil
}

// issueGatewayTLS has the exporter organisation's TLS CA issue the gateway's
// server certificate (SANs 127.0.0.1 and localhost), once per data
// directory, through the identity command as for the nodes. A network made
// with cryptogen has no CA: its gateway stays on plain HTTP, on loopback.
func (n *Network) issueGatewayTLS(ctx context.Context) error {
	st, err := n.LoadState()
	if err != nil || st.Crypto != CryptoCA {
		return nil
	}
	if _, err := os.Stat(filepath.Join(n.gatewayTLSDir(), "server.crt")); err == nil {
		return nil
	}
	org := topology.ExporterOrg
	var ca topology.CA
	for _, c := range n.Layout.CAs() {
		if c.Org == org {
			ca = c
		}
	}
	// The plan's organisation folder takes a copy of the org's MSP roots
	// (bootstrap writes them); a scratch folder keeps the real one as is.
	work, err := os.MkdirTemp(n.Layout.Home, "gateway-tls-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// A fresh enrolment name each time: a CA registers a name once, and a
	// data directory that lost its files must still get a certificate.
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return err
	}
	name := "gateway-" + hex.EncodeToString(suffix) + "." + org.Domain
	p := plan.Plan{CA: n.caDescriptor(ca), OrgDir: work, Members: []plan.Member{{
		Name: name, Type: "client", TLSDir: n.gatewayTLSDir(), Server: true,
		Hosts: []string{"127.0.0.1", "localhost", "gateway." + org.Domain},
	}}}
	return n.step("issue the gateway's TLS certificate ("+org.MSPID+" TLS CA)", func() error {
		if _, err := os.Stat(n.identityBin()); err != nil {
			if err := n.EnsureIdentityTool(ctx); err != nil {
				return err
			}
		}
		return n.bootstrap(ctx, p, filepath.Join(work, "plan.json"))
	})
}
