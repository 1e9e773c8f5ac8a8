package localnet

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
)

// IdentityDir is where `identity issue` puts an identity's msp/ and tls/.
func (n *Network) IdentityDir(org topology.Org, name string) string {
	return filepath.Join(n.Layout.Home, "identities", org.MSPID, name)
}

// EnsureIdentityTool builds the identity command (and nothing else).
func (n *Network) EnsureIdentityTool(ctx context.Context) error {
	return n.goBuild(ctx, "./identity/cmd/shiptrace-identity", n.identityBin())
}

// IdentityRequest is one `shipnet identity` call.
type IdentityRequest struct {
	Org    topology.Org
	Name   string
	Type   string // client (default), admin, peer, orderer
	Role   string // shiptrace.role
	Reason string // revocation reason
}

// Identity runs an identity command against the org's CA: issue (register
// and enrol into IdentityDir), reenroll, list, or revoke, which also puts the
// CA's new CRL into the channel configuration so the ledger refuses the
// revoked identity.
func (n *Network) Identity(ctx context.Context, sub string, r IdentityRequest, out io.Writer) error {
	st, err := n.LoadState()
	if err != nil {
		return fmt.Errorf("no network in %s: %w", n.Layout.Home, err)
	}
	if st.Crypto != CryptoCA {
		return fmt.Errorf("the network in %s was created with %s: identities need a network created with --crypto ca", n.Layout.Home, st.Crypto)
	}
	dir := n.IdentityDir(r.Org, r.Name)
	args := []string{sub, "--ca", n.CADescriptorFile(r.Org)}
	switch sub {
	case "issue":
		if r.Role == "" {
			return fmt.Errorf("identity issue needs --role: the contract refuses a certificate without a known role everything")
		}
		typ := r.Type
		if typ == "" {
			typ = "client"
		}
		args = append(args, "--name", r.Name, "--type", typ, "--role", r.Role,
			"--msp", filepath.Join(dir, "msp"), "--tls", filepath.Join(dir, "tls"))
	case "reenroll":
		args = append(args, "--name", r.Name, "--msp", filepath.Join(dir, "msp"))
	case "revoke":
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		args = append(args, "--name", r.Name, "--reason", r.Reason, "--crl", n.crlFile(r.Org))
	case "list":
	default:
		return fmt.Errorf("unknown identity command %q: want issue, reenroll, revoke or list", sub)
	}
	cmd := exec.CommandContext(ctx, n.identityBin(), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("shiptrace-identity %s: %w", sub, err)
	}
	switch sub {
	case "issue":
		return n.refreshGatewayKeys(ctx, r, out)
	case "revoke":
		crl, err := os.ReadFile(n.crlFile(r.Org))
		if err != nil {
			return err
		}
		if err := n.step("put the CRL of "+r.Org.MSPID+" into the channel configuration", func() error {
			return n.PublishCRL(ctx, r.Org, crl)
		}); err != nil {
			return err
		}
		// The gateway drops the identity and its API key when it reloads.
		if err := os.WriteFile(filepath.Join(dir, "revoked"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil && !os.IsNotExist(err) {
			return err
		}
		return n.refreshGatewayKeys(ctx, r, out)
	}
	return nil
}

// refreshGatewayKeys rewrites the local gateway's configuration (init-local
// gives every issued, unrevoked identity an identity and an API key), which
// the running gateway reloads on its own, without a restart; it waits until
// the gateway accepts a newly issued key or refuses a revoked one, and
// prints the key of a newly issued identity.
func (n *Network) refreshGatewayKeys(ctx context.Context, r IdentityRequest, out io.Writer) error {
	if _, running := proc.Running(n.Layout.PIDFile(n.gatewayName(r.Org))); !n.Services || !running {
		return nil
	}
	member := strings.ToLower(strings.TrimSuffix(r.Org.MSPID, "MSP")) + "_" + strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToLower(r.Name))
	before, err := n.APIKeys()
	if err != nil {
		return err
	}
	svcs, err := n.services()
	if err != nil {
		return err
	}
	var gw service
	for _, s := range svcs {
		if s.name == n.gatewayName(r.Org) {
			gw = s
		}
	}
	if err := n.step("give the running gateway the identities' keys (it reloads its configuration)", func() error {
		cmd := exec.CommandContext(ctx, n.binPath(gw.bin), gw.prepare...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %w: %s", gw.bin, gw.prepare[0], err, b)
		}
		after, err := n.APIKeys()
		if err != nil {
			return err
		}
		key, want := after[member], http.StatusNotFound // an unknown transaction: the key authenticated
		if key == "" {
			key, want = before[member], http.StatusUnauthorized
		}
		if key == "" {
			return nil
		}
		return retry(ctx, 30*time.Second, func(ctx context.Context) error {
			got, err := n.gatewayStatus(ctx, r.Org, key, "/v1/transactions/"+strings.Repeat("0", 64))
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("the gateway answers the key of %s with %d, want %d (it reloads %s on change and on SIGHUP)",
					r.Name, got, want, filepath.Join(n.gatewayDirOf(r.Org), "gateway.yaml"))
			}
			return nil
		})
	}); err != nil {
		return err
	}
	keys, err := n.APIKeys()
	if err != nil {
		return err
	}
	if key, ok := keys[member]; ok {
		fmt.Fprintf(out, "gateway API key for %s: %s\n", r.Name, key)
	} else {
		fmt.Fprintf(out, "%s has no gateway API key now\n", r.Name)
	}
	return nil
}

// gatewayStatus is the status the running gateway answers a GET of path
// with, sent with key.
func (n *Network) gatewayStatus(ctx context.Context, org topology.Org, key, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.GatewayURLOf(org)+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", key)
	ca := ""
	if strings.HasPrefix(n.GatewayURLOf(org), "https://") {
		ca = n.GatewayCAOf(org)
	}
	hc, err := httpClient(5*time.Second, ca)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (n *Network) crlFile(org topology.Org) string {
	return filepath.Join(n.Layout.Home, "identities", org.MSPID, "crl.pem")
}

// PublishCRL replaces the organisation's revocation list in the channel's MSP
// definition with crl (the CA's CRL lists every certificate it revoked), by a
// channel configuration update signed by the org's admin, which the org's
// MSP value's modification policy (the org's Admins) requires. Peers and
// orderers then refuse every revoked certificate, whichever gateway it
// comes through.
func (n *Network) PublishCRL(ctx context.Context, org topology.Org, crl []byte) error {
	peer, ok := n.Layout.PeerOf(org.MSPID)
	if !ok {
		return fmt.Errorf("%s has no peer: only peer organisations publish CRLs here", org.MSPID)
	}
	work, err := os.MkdirTemp(n.Layout.Home, "config-update-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := n.adminEnv(peer)
	cfg, original, _, err := n.fetchConfig(ctx, env, peer, work)
	if err != nil {
		return err
	}
	mspConfig, err := dig(cfg, "channel_group", "groups", "Application", "groups", org.MSPID, "values", "MSP", "value", "config")
	if err != nil {
		return err
	}
	mspConfig["revocation_list"] = []string{base64.StdEncoding.EncodeToString(crl)}
	envelope, err := n.configUpdate(ctx, env, work, original, cfg)
	if err != nil {
		return err
	}
	update := append([]string{"channel", "update", "-f", envelope, "-c", topology.Channel}, n.ordererClientArgs(peer)...)
	_, err = n.run(ctx, env, "peer", update...)
	return err
}

// dig walks nested JSON objects by key.
func dig(m map[string]any, keys ...string) (map[string]any, error) {
	cur := m
	for i, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("channel configuration has no %v", keys[:i+1])
		}
		cur = next
	}
	return cur, nil
}
