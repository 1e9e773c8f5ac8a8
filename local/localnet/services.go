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
// On the hosts layout it is the exporter's gateway (see GatewayURLOf).
func (n *Network) GatewayURL() string { return n.GatewayURLOf(topology.ExporterOrg) }

// GatewayURLOf is the gateway that serves org's identities: the one gateway
// on one host, the org's own gateway on its host on the hosts layout.
func (n *Network) GatewayURLOf(org topology.Org) string {
	if _, err := os.Stat(n.GatewayCAOf(org)); err == nil {
		return "https://" + n.addr(org.Label, 0)
	}
	return "http://" + n.addr(org.Label, 0)
}

// GatewayCA is the root certificate clients trust the gateway's certificate
// with: the exporter organisation's TLS CA (curl --cacert).
func (n *Network) GatewayCA() string { return n.GatewayCAOf(topology.ExporterOrg) }

// GatewayCAOf is the root of org's gateway's certificate: its own TLS CA on
// the hosts layout.
func (n *Network) GatewayCAOf(org topology.Org) string {
	return filepath.Join(n.gatewayTLSDirOf(org), "ca.crt")
}

func (n *Network) gatewayTLSDirOf(org topology.Org) string {
	return filepath.Join(n.gatewayDirOf(org), "tls")
}
func (n *Network) NotifierURL() string { return "http://" + n.addr("exporter", 11) }
func (n *Network) WebhookURL() string  { return "http://" + n.addr("exporter", 10) + "/webhook" }
func (n *Network) StandinURL() string  { return "http://" + n.addr("whatsapp", 20) }

// addr is the i-th service port on a host (127.0.0.1 on one host).
func (n *Network) addr(host string, i int) string {
	return n.Layout.Host(host).IP + ":" + strconv.Itoa(n.Layout.ServicePort(i))
}
func (n *Network) serviceDir() string      { return filepath.Join(n.Layout.Home, "services") }
func (n *Network) useStandin() bool        { return os.Getenv(EnvWhatsAppToken) == "" }
func (n *Network) binPath(b string) string { return filepath.Join(n.helperBinDir(), b) }

// NotifierHealthURL serves the notifier's /healthz, /readyz and /metrics;
// NotifierURL is its admin API, which needs NotifierAdminToken.
func (n *Network) NotifierHealthURL() string { return "http://" + n.addr("exporter", 12) }

// service is one process of the quick start.
type service struct {
	name     string
	netns    string // the host it runs on ("" on one host)
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
// On the hosts layout each member's keys come from its own gateway's file;
// a key works only at its member's gateway.
func (n *Network) APIKeys() (map[string]string, error) {
	keys := map[string]string{}
	if n.Layout.Hosts == nil {
		return keys, readAPIKeys(filepath.Join(n.gatewayDir(), "api-keys.env"), keys)
	}
	for _, org := range n.Layout.PeerOrgs() {
		if err := readAPIKeys(filepath.Join(n.gatewayDirOf(org), "api-keys.env"), keys); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func readAPIKeys(file string, keys map[string]string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("gateway API keys: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			if member, ok := strings.CutPrefix(k, "SHIPTRACE_API_KEY_"); ok {
				keys[strings.ToLower(member)] = v
			}
		}
	}
	return nil
}

func (n *Network) gatewayDir() string { return filepath.Join(n.serviceDir(), "gateway") }

// gatewayDirOf is org's gateway's folder: the one gateway's on one host.
func (n *Network) gatewayDirOf(org topology.Org) string {
	if n.Layout.Hosts == nil {
		return n.gatewayDir()
	}
	return filepath.Join(n.serviceDir(), "gateway-"+org.Label)
}

// gatewayName is the process name of org's gateway.
func (n *Network) gatewayName(org topology.Org) string {
	if n.Layout.Hosts == nil {
		return "gateway"
	}
	return "gateway." + org.Label
}

func (n *Network) services() ([]service, error) {
	profile := n.Layout.ConnectionProfile()
	trackSecret, err := n.trackingSecretFile()
	if err != nil {
		return nil, err
	}
	// On one host, one gateway process holds the three members' identities
	// (User1 of each org), one API key each; on the hosts layout each
	// member runs its own gateway on its own host with only its own
	// organisation's identities and keys, as in production. Configurations
	// come from init-local.
	var gateways []service
	orgs := n.Layout.PeerOrgs()
	if n.Layout.Hosts == nil {
		orgs = orgs[:1]
	}
	for _, org := range orgs {
		dir, prof := n.gatewayDirOf(org), profile
		prepare := []string{"init-local", "--home", n.Layout.Home, "--out", dir, "--listen", n.addr(org.Label, 0)}
		if n.Layout.Hosts != nil {
			prof = n.orgProfile(org)
		}
		prepare = append(prepare, "--profile", prof)
		if org == topology.ExporterOrg {
			// The tracking page reads as the exporter (whose notifier sends the links).
			prepare = append(prepare, "--track-secret-file", trackSecret)
		}
		gw := service{name: n.gatewayName(org), netns: n.Layout.Host(org.Label).NetNS,
			pkg: "./gateway/cmd/shiptrace-gateway", bin: "shiptrace-gateway", prepare: prepare,
			args:   []string{"serve", "--config", filepath.Join(dir, "gateway.yaml")},
			health: n.GatewayURLOf(org) + "/healthz"}
		if _, err := os.Stat(n.GatewayCAOf(org)); err == nil {
			gw.args = append(gw.args, "--tls-cert", filepath.Join(n.gatewayTLSDirOf(org), "server.crt"),
				"--tls-key", filepath.Join(n.gatewayTLSDirOf(org), "server.key"))
			gw.healthCA = n.GatewayCAOf(org)
		}
		gateways = append(gateways, gw)
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
	notifierProfile := profile
	if n.Layout.Hosts != nil {
		notifierProfile = n.orgProfile(topology.ExporterOrg)
	}
	// The exporter's notifier runs on the exporter's host, next to its peer.
	notifier := service{name: "notifier", netns: n.Layout.Host("exporter").NetNS, pkg: "./notifier/cmd/shiptrace-notifier", bin: "shiptrace-notifier",
		args: []string{"--fabric.connection_profile", notifierProfile, "--contacts.source", "fabric",
			"--provider.kind", "whatsapp", "--provider.base_url", baseURL, "--provider.phone_number_id", phoneID,
			"--store.path", filepath.Join(n.notifierDir(), "notifier.db"), "--store.phone_ref_key_file", refKeyFile,
			"--webhook.addr", n.addr("exporter", 10), "--admin.addr", n.addr("exporter", 11), "--admin.token_file", adminTokenFile,
			"--health.addr", n.addr("exporter", 12), "--anchor.interval", "2s", // proofs of notification within seconds on the local network
			"--tracking_url", n.GatewayURL() + "/track/%s", "--tracking_secret_file", trackSecret},
		env: []string{"SHIPTRACE_NOTIFIER_PROVIDER_TOKEN=" + token, "SHIPTRACE_NOTIFIER_WEBHOOK_APP_SECRET=" + secret,
			"SHIPTRACE_NOTIFIER_WEBHOOK_VERIFY_TOKEN=" + verify},
		health: n.NotifierHealthURL() + "/healthz"}
	if opsPhone != "" { // no operations number: no breach alerts to the exporter
		notifier.env = append(notifier.env, "SHIPTRACE_NOTIFIER_OPS_PHONE="+opsPhone)
	}
	var out []service
	if n.useStandin() {
		// The stand-in plays Meta's cloud, which belongs to no member: a
		// host of its own on the hosts layout.
		out = append(out, service{name: "wa-standin", netns: n.Layout.Host("whatsapp").NetNS, pkg: "./local/wastandin/cmd/wa-standin", bin: "wa-standin",
			args: []string{"-addr", n.addr("whatsapp", 20), "-token", token, "-phone-number-id", phoneID,
				"-app-secret", secret, "-webhook-url", n.WebhookURL()},
			health: n.StandinURL() + "/_standin/messages"})
	}
	return append(append(out, gateways...), notifier), nil
}

// ServiceNames lists the quick start's processes, for status and stop.
func (n *Network) ServiceNames() []string {
	names := []string{"wa-standin", "gateway"}
	if n.Layout.Hosts != nil {
		names = []string{"wa-standin"}
		for _, org := range n.Layout.PeerOrgs() {
			names = append(names, n.gatewayName(org))
		}
	}
	return append(names, "notifier")
}

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
		for _, dir := range []string{n.gatewayDirOf(topology.ExporterOrg), n.notifierDir()} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
		}
		if s.prepare != nil {
			cmd := exec.CommandContext(ctx, n.binPath(s.bin), s.prepare...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s %s: %w: %s", s.bin, s.prepare[0], err, out)
			}
		}
		_, err := proc.Start(proc.Spec{Name: s.name, Path: n.binPath(s.bin), Args: s.args, NetNS: s.netns,
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

// issueGatewayTLS has the organisation's TLS CA issue its gateway's server
// certificate (SANs 127.0.0.1, localhost and, on the hosts layout, the
// org's host address), once per data directory, through the identity
// command as for the nodes: on one host the exporter's CA for the one
// gateway, on the hosts layout each member's CA for its own gateway. A
// network made with cryptogen has no CA: its gateway stays on plain HTTP, on
// loopback.
func (n *Network) issueGatewayTLS(ctx context.Context) error {
	st, err := n.LoadState()
	if err != nil || st.Crypto != CryptoCA {
		return nil
	}
	orgs := n.Layout.PeerOrgs()
	if n.Layout.Hosts == nil {
		orgs = orgs[:1]
	}
	for _, org := range orgs {
		if err := n.issueGatewayTLSOf(ctx, org); err != nil {
			return err
		}
	}
	return nil
}

func (n *Network) issueGatewayTLSOf(ctx context.Context, org topology.Org) error {
	if _, err := os.Stat(filepath.Join(n.gatewayTLSDirOf(org), "server.crt")); err == nil {
		return nil
	}
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
		Name: name, Type: "client", TLSDir: n.gatewayTLSDirOf(org), Server: true,
		Hosts: hostList(n.Layout.OrgHost(org).IP, "gateway."+org.Domain),
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
