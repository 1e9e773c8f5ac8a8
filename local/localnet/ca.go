package localnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/identity/plan"
	"github.com/shiptrace/shiptrace/local/fabricbin"
	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/shipment"
)

// Crypto material comes from one Fabric CA server per organisation (the
// default), or from cryptogen (--crypto cryptogen, the faster path kept for
// comparison and for machines without cgo).
const (
	CryptoCA        = "ca"
	CryptoCryptogen = "cryptogen"
)

// Bootstrap order with CAs (see network/README.md): start every org's CA
// server (it creates its own roots and a listener certificate signed by its
// enrolment root), then, per org, register and enrol the nodes and users over
// HTTPS, writing MSP and TLS folders in the layout the nodes read; only then
// configtxgen, orderers and peers, as with cryptogen.

// orgUser is a user identity `up` issues to an organisation, always with an
// explicit role: the contract refuses a certificate without a known role
// everything.
type orgUser struct {
	name, typ, role string
}

// orgUsers are the users `up` issues to org: its admin everywhere; in a peer
// organisation also the REST gateway's identity (User1) and the notifier's.
func orgUsers(org topology.Org) []orgUser {
	users := []orgUser{{"Admin", "admin", shipment.RoleAdmin}}
	if org != topology.OrdererOrg {
		users = append(users, orgUser{"User1", "client", shipment.RoleGateway},
			orgUser{"Notifier", "client", shipment.RoleNotifier})
	}
	return users
}

// profileUsers are the users the connection profile lists for a peer
// organisation. cryptogen issues no Notifier (and no roles at all), so on
// such a network the notifier's name points at User1's files: the services
// still start, and the contract refuses both, as it refuses every role-less
// certificate.
func (n *Network) profileUsers(org topology.Org) map[string]fabric.User {
	l := n.Layout
	users := map[string]fabric.User{}
	for _, u := range orgUsers(org) {
		files := u.name
		if _, err := os.Stat(l.UserMSPDir(org, u.name)); u.name == "Notifier" && errors.Is(err, os.ErrNotExist) {
			files = "User1"
		}
		msp, tlsDir := l.UserMSPDir(org, files), l.UserTLSDir(org, files)
		users[u.name] = fabric.User{
			Cert:    filepath.Join(msp, "signcerts", files+"@"+org.Domain+"-cert.pem"),
			Key:     filepath.Join(msp, "keystore", "priv_sk"),
			TLSCert: filepath.Join(tlsDir, "client.crt"),
			TLSKey:  filepath.Join(tlsDir, "client.key"),
		}
	}
	return users
}

// registrarName matches identity.Registrar (not imported: see package plan).
const registrarName = "registrar"

func (n *Network) caSecretFile(org topology.Org) string {
	return filepath.Join(n.Layout.CAHome(org), "registrar.secret")
}

// initCA renders the CA server's configuration with a fresh registrar secret.
func (n *Network) initCA(ca topology.CA) error {
	home := n.Layout.CAHome(ca.Org)
	if err := os.MkdirAll(filepath.Join(home, "tlsca"), 0o700); err != nil {
		return err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	secret := hex.EncodeToString(b)
	data := map[string]any{"Port": ca.Port, "OpsPort": ca.OpsPort, "CAName": ca.CAName(), "TLSCAName": ca.TLSCAName(),
		"AdminUser": registrarName, "AdminPass": secret, "Label": ca.Org.Label, "Domain": ca.Org.Domain, "IP": ca.IP}
	for tmpl, out := range map[string]string{
		"fabric-ca-server-config.yaml.tmpl": filepath.Join(home, "fabric-ca-server-config.yaml"),
		"tlsca.yaml.tmpl":                   filepath.Join(home, "tlsca", "fabric-ca-config.yaml"),
	} {
		t, err := template.ParseFiles(filepath.Join(n.configDir(), tmpl))
		if err != nil {
			return err
		}
		var sb strings.Builder
		if err := t.Execute(&sb, data); err != nil {
			return err
		}
		if err := os.WriteFile(out, []byte(sb.String()), 0o600); err != nil {
			return err
		}
	}
	return os.WriteFile(n.caSecretFile(ca.Org), []byte(secret), 0o600)
}

// startCAs starts every CA server that is not running (initialising those
// that have no home yet) and waits until each answers over TLS.
func (n *Network) startCAs(ctx context.Context) error {
	return inParallel(n.Layout.CAs(), func(ca topology.CA) error { return n.startCA(ctx, ca) })
}

func (n *Network) startCA(ctx context.Context, ca topology.CA) error {
	home := n.Layout.CAHome(ca.Org)
	if _, ok := proc.Running(n.Layout.PIDFile(ca.Name)); ok {
		return nil
	}
	if _, err := os.Stat(n.caSecretFile(ca.Org)); errors.Is(err, os.ErrNotExist) {
		if err := n.initCA(ca); err != nil {
			return fmt.Errorf("init %s: %w", ca.Name, err)
		}
	}
	bin := filepath.Join(fabricbin.FabricCA.Dir(n.Cache), "fabric-ca-server")
	if _, err := proc.Start(proc.Spec{Name: ca.Name, Path: bin, Args: []string{"start", "-H", home}, NetNS: ca.NetNS,
		Env: append(n.baseEnv(), "GOMEMLIMIT="+memLimitCA), Dir: home,
		LogFile: n.Layout.LogFile(ca.Name), PIDFile: n.Layout.PIDFile(ca.Name)}); err != nil {
		return err
	}
	return retry(ctx, 30*time.Second, func(ctx context.Context) error {
		if _, ok := proc.Running(n.Layout.PIDFile(ca.Name)); !ok {
			return n.exited(ca.Name)
		}
		if err := caReady(ctx, ca, filepath.Join(home, "ca-cert.pem")); err != nil {
			return fmt.Errorf("%s not ready (%v); see %s", ca.Name, err, n.Layout.LogFile(ca.Name))
		}
		return nil
	})
}

// caReady asks the CA server for its info over TLS, trusting its root.
func caReady(ctx context.Context, ca topology.CA, rootFile string) error {
	cfg, err := fabric.TLSConfig(fabric.Peer{Name: ca.Name, TLSRootCA: rootFile}, fabric.User{})
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ca.URL()+"/cainfo?ca="+ca.CAName(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cainfo: %s", resp.Status)
	}
	return nil
}

// caDescriptor is how the identity command reaches an org's CA.
func (n *Network) caDescriptor(ca topology.CA) plan.CA {
	home := n.Layout.CAHome(ca.Org)
	return plan.CA{Org: ca.Org.Name, MSPID: ca.Org.MSPID, Domain: ca.Org.Domain, URL: ca.URL(),
		CAName: ca.CAName(), TLSCAName: ca.TLSCAName(), Home: home, SecretFile: n.caSecretFile(ca.Org),
		StoreDir: filepath.Join(home, "client-store")}
}

// CADescriptorFile is the file `shiptrace-identity --ca` reads for an org.
func (n *Network) CADescriptorFile(org topology.Org) string {
	return filepath.Join(n.Layout.CAHome(org), "client.json")
}

func (n *Network) identityBin() string { return filepath.Join(n.helperBinDir(), "shiptrace-identity") }

// enrollCrypto has every org's CA issue its nodes' and users' material, in
// parallel across orgs, through the identity command.
func (n *Network) enrollCrypto(ctx context.Context) error {
	return inParallel(n.Layout.CAs(), func(ca topology.CA) error {
		if err := n.enrollOrg(ctx, ca); err != nil {
			return fmt.Errorf("%s: %w", ca.Org.MSPID, err)
		}
		return nil
	})
}

func (n *Network) enrollOrg(ctx context.Context, ca topology.CA) error {
	l := n.Layout
	org := ca.Org
	p := plan.Plan{CA: n.caDescriptor(ca), OrgDir: l.OrgDir(org)}
	// On the hosts layout every certificate also names the org's host
	// address, which is what the other members dial.
	ip := l.OrgHost(org).IP
	hosts := func(name string) []string { return hostList(ip, name) }
	var nodes []topology.Node
	if org == topology.OrdererOrg {
		nodes = l.Orderers()
	} else if peer, ok := l.PeerOf(org.MSPID); ok {
		nodes = []topology.Node{peer}
		// The org's chaincode server: a TLS identity only.
		p.Members = append(p.Members, plan.Member{Name: "ccaas." + org.Domain, Type: "client",
			TLSDir: l.CCServerTLSDir(org), Server: true, Hosts: hosts("ccaas." + org.Domain)})
	}
	for _, node := range nodes {
		p.Members = append(p.Members, plan.Member{Name: node.Host, Type: string(node.Kind), MSPDir: l.NodeMSPDir(node),
			CertFile: node.Host + "-cert.pem", TLSDir: l.NodeTLSDir(node), Server: true, Hosts: hostList(node.IP, node.Host)})
	}
	for _, u := range orgUsers(org) {
		name := u.name + "@" + org.Domain
		p.Members = append(p.Members, plan.Member{Name: name, Type: u.typ, Role: u.role, MSPDir: l.UserMSPDir(org, u.name),
			CertFile: name + "-cert.pem", TLSDir: l.UserTLSDir(org, u.name), Hosts: hosts(name)})
	}
	if err := writeJSON(n.CADescriptorFile(org), p.CA); err != nil {
		return err
	}
	return n.bootstrap(ctx, p, filepath.Join(l.CAHome(org), "bootstrap-plan.json"))
}

// bootstrap saves the plan to planFile and has the identity command issue
// everything it asks for.
func (n *Network) bootstrap(ctx context.Context, p plan.Plan, planFile string) error {
	if err := p.Save(planFile); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, n.identityBin(), "bootstrap", "--plan", planFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("shiptrace-identity bootstrap: %w: %s", err, out)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// hostList is the SAN list of a certificate for name: loopback always (a
// process's own tools on its host), and the host's address when it has one.
func hostList(ip, name string) []string {
	hosts := []string{"127.0.0.1", "localhost", name}
	if ip != "" && ip != "127.0.0.1" {
		hosts = append(hosts, ip)
	}
	return hosts
}
