package localnet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/proc"
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
func (n *Network) GatewayURL() string      { return "http://" + n.addr(0) }
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
	name    string
	pkg     string // Go package of its command
	bin     string
	args    []string
	env     []string
	prepare []string // arguments of a run of the same command before the start
	health  string   // URL that answers 200 once it serves
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
	// One gateway process holds the three members' identities (User1 of each
	// org), one API key each; its configuration comes from init-local.
	gw := service{name: "gateway", pkg: "./gateway/cmd/shiptrace-gateway", bin: "shiptrace-gateway",
		prepare: []string{"init-local", "--home", n.Layout.Home, "--profile", profile, "--out", n.gatewayDir(), "--listen", n.addr(0)},
		args:    []string{"serve", "--config", filepath.Join(n.gatewayDir(), "gateway.yaml")},
		health:  n.GatewayURL() + "/healthz"}

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
			"--health.addr", n.addr(12),
			"--tracking_url", n.GatewayURL() + "/v1/shipments/%s"},
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
			if err := httpOK(ctx, s.health); err != nil {
				return fmt.Errorf("%s not healthy (%v); see %s", s.name, err, n.Layout.LogFile(s.name))
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
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
