package localnet

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
)

// Up creates the network if this data directory has none, or starts the
// existing one (nothing is lost: ledgers, channel and chaincode stay).
func (n *Network) Up(ctx context.Context) error {
	if st, err := n.LoadState(); err == nil {
		if st.BasePort != n.Layout.BasePort {
			return fmt.Errorf("the network in %s uses base port %d, not %d: pass --base-port %d, or `down` first",
				n.Layout.Home, st.BasePort, n.Layout.BasePort, st.BasePort)
		}
		if !st.Complete {
			return fmt.Errorf("the network in %s was never completely created (an earlier up failed; its logs are in %s): run `scripts/down`, then up again",
				n.Layout.Home, n.Layout.LogDir())
		}
		fmt.Fprintf(n.Out, "network exists in %s: starting what is not running\n", n.Layout.Home)
		return n.Start(ctx)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	total := time.Now()
	if n.Layout.Hosts != nil {
		if n.Crypto != CryptoCA {
			return fmt.Errorf("the hosts layout needs --crypto ca: cryptogen's certificates name 127.0.0.1 only")
		}
		if err := n.step("check this machine can make hosts (root, iproute2, namespaces)", RequireNamespaces); err != nil {
			return err
		}
	}
	if err := n.step("check ports", n.checkPortsFree); err != nil {
		return err
	}
	if err := n.EnsureTools(ctx); err != nil {
		return err
	}
	upStart := time.Now()
	if err := os.MkdirAll(n.Layout.Home, 0o755); err != nil {
		return err
	}
	st := &State{BasePort: n.Layout.BasePort, Crypto: n.Crypto, Services: n.Services, Created: time.Now().UTC(), Packages: map[string]string{},
		Hosts: n.Layout.Hosts}
	if err := n.saveState(st); err != nil {
		return err
	}
	if h := n.Layout.Hosts; h != nil {
		if err := n.step(fmt.Sprintf("create %d hosts (network namespaces %s*, bridge %s, %s)", len(n.Layout.AllHosts()), h.NetNSPrefix(), h.Bridge(), h.CIDR()),
			func() error { return n.CreateHosts(ctx) }); err != nil {
			return err
		}
	}
	switch n.Crypto {
	case CryptoCryptogen:
		if err := n.step("generate crypto material (cryptogen)", func() error { return n.generateCrypto(ctx) }); err != nil {
			return err
		}
	case CryptoCA:
		if err := n.step("start 4 Fabric CAs (enrolment + TLS CA each)", func() error { return n.startCAs(ctx) }); err != nil {
			return err
		}
		if err := n.step("register and enrol nodes and users (fabric-sdk-go)", func() error { return n.enrollCrypto(ctx) }); err != nil {
			return err
		}
		if err := checkLowS(n.Layout.CryptoDir()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown crypto source %q: want %q or %q", n.Crypto, CryptoCA, CryptoCryptogen)
	}
	if err := n.step("create channel genesis block (configtxgen)", func() error { return n.channelBlock(ctx) }); err != nil {
		return err
	}
	if err := n.step("start 3 orderers", func() error { return n.startAll(ctx, n.Layout.Orderers()) }); err != nil {
		return err
	}
	if err := n.step("join orderers to "+topology.Channel+" (osnadmin)", func() error { return n.joinOrderers(ctx) }); err != nil {
		return err
	}
	if err := n.step("start 3 peers", func() error { return n.startAll(ctx, n.Layout.Peers()) }); err != nil {
		return err
	}
	if err := n.step("join peers to "+topology.Channel, func() error { return n.joinPeers(ctx) }); err != nil {
		return err
	}
	if err := n.Deploy(ctx, ""); err != nil {
		return err
	}
	committed := time.Since(upStart)
	// Gossip converges while the chaincode deploys; check it after.
	if err := n.step("wait until every peer knows the others (gossip)", func() error { return n.waitGossip(ctx, 90*time.Second) }); err != nil {
		return err
	}
	if err := n.step("write connection profile", n.writeProfile); err != nil {
		return err
	}
	st, err := n.LoadState() // Deploy recorded the chaincode in it
	if err != nil {
		return err
	}
	st.Complete = true
	if err := n.saveState(st); err != nil {
		return err
	}
	fmt.Fprintf(n.Out, "network up: chaincode committed %.1fs after the binaries were ready; every org's endorsers discoverable after %.1fs (%.1fs in all)\n",
		committed.Seconds(), time.Since(upStart).Seconds(), time.Since(total).Seconds())
	return n.startServices(ctx)
}

// startServices starts the quick start's services when asked to, and prints
// how to use them.
func (n *Network) startServices(ctx context.Context) error {
	if !n.Services {
		return nil
	}
	if err := n.step("start gateway, notifier and WhatsApp stand-in", func() error { return n.StartServices(ctx) }); err != nil {
		return err
	}
	return n.PrintWelcome(n.Out)
}

// Start starts every process of an existing network that is not running and
// waits until the channel can order transactions again.
func (n *Network) Start(ctx context.Context) error {
	st, err := n.LoadState()
	if err != nil {
		return fmt.Errorf("no network in %s (run `up` first): %w", n.Layout.Home, err)
	}
	if err := n.EnsureTools(ctx); err != nil {
		return err
	}
	n.Layout.Hosts = st.Hosts
	if h := st.Hosts; h != nil {
		// Namespaces do not survive a reboot of the machine: make them again
		// when one is missing (its processes cannot be running then).
		if n.hostsMissing() {
			if err := n.step("create hosts", func() error { return n.CreateHosts(ctx) }); err != nil {
				return err
			}
		}
	}
	if st.Crypto == CryptoCA {
		if err := n.step("start Fabric CAs", func() error { return n.startCAs(ctx) }); err != nil {
			return err
		}
	}
	if err := n.step("start orderers", func() error { return n.startAll(ctx, n.Layout.Orderers()) }); err != nil {
		return err
	}
	if err := n.step("start peers", func() error { return n.startAll(ctx, n.Layout.Peers()) }); err != nil {
		return err
	}
	if err := n.step("start chaincode servers", func() error {
		for _, p := range n.Layout.Peers() {
			if id := st.Packages[p.Org.MSPID]; id != "" {
				if err := n.startCCServerAt(ctx, p, id, st.slotOf(id)); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := n.step("wait for a Raft leader", func() error { return n.waitLeader(ctx, time.Minute) }); err != nil {
		return err
	}
	if err := n.step("wait until every peer knows the others (gossip)", func() error { return n.waitGossip(ctx, 90*time.Second) }); err != nil {
		return err
	}
	if err := n.step("write connection profile", n.writeProfile); err != nil {
		return err
	}
	return n.startServices(ctx)
}

// startAll starts the nodes that are not running, then waits for all of them.
func (n *Network) startAll(ctx context.Context, nodes []topology.Node) error {
	return inParallel(nodes, func(node topology.Node) error {
		if _, ok := proc.Running(n.Layout.PIDFile(node.Name)); ok {
			return nil
		}
		return n.startNode(ctx, node)
	})
}

// Stop stops every process, keeping all data.
func (n *Network) Stop(ctx context.Context) error {
	names := n.ServiceNames()
	for _, p := range n.Layout.Peers() {
		for _, slot := range ccServerSlots {
			names = append(names, ccServerNameAt(p, slot))
		}
	}
	for _, node := range n.Layout.Nodes() {
		names = append(names, node.Name)
	}
	for _, ca := range n.Layout.CAs() {
		names = append(names, ca.Name)
	}
	if st, err := n.LoadState(); err == nil {
		names = append(names, st.Extras...)
	}
	return inParallel(names, func(name string) error {
		return proc.Stop(ctx, n.Layout.PIDFile(name), 15*time.Second)
	})
}

// Down stops everything and removes the network's data. It deletes only what
// the tooling creates inside the data directory.
func (n *Network) Down(ctx context.Context) error {
	if err := n.step("stop all processes", func() error { return n.Stop(ctx) }); err != nil {
		return err
	}
	// The hosts' namespaces and links go by the data directory's tag, so
	// what a crashed run left is found without network.json.
	tag := topology.HostTag(n.Layout.Home)
	if left, err := Leftovers(tag); err == nil && len(left) > 0 {
		if err := n.step("remove hosts "+tag+"* (namespaces, veth pairs, bridge)", func() error { return RemoveHosts(ctx, tag) }); err != nil {
			return err
		}
	}
	return n.step("remove network data in "+n.Layout.Home, func() error {
		// Each member's own profile on the hosts layout, joined members' too.
		profiles, _ := filepath.Glob(filepath.Join(n.Layout.Home, "connection-*.json"))
		for _, p := range append([]string{"crypto", "ca", "identities", "services", "logs", "run", "channel", "nodes", "packages", "joins", "connection.json", "network.json", "configtx.yaml"}, profiles...) {
			if err := os.RemoveAll(filepath.Join(n.Layout.Home, filepath.Base(p))); err != nil {
				return err
			}
		}
		_ = os.Remove(n.Layout.Home) // only if empty: other services may keep data here
		return nil
	})
}

func (n *Network) generateCrypto(ctx context.Context) error {
	if _, err := n.run(ctx, n.baseEnv(), "cryptogen", "generate",
		"--config", filepath.Join(n.configDir(), "crypto-config.yaml"), "--output", n.Layout.CryptoDir()); err != nil {
		return err
	}
	if _, err := normaliseCACerts(n.Layout.CryptoDir()); err != nil {
		return err
	}
	return checkLowS(n.Layout.CryptoDir())
}

// checkLowS verifies that every ECDSA certificate under cryptoDir carries a
// low-S signature, as Fabric's MSP requires.
func checkLowS(cryptoDir string) error {
	var bad []string
	err := filepath.WalkDir(cryptoDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "-cert.pem") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cert, err := parsePEMCert(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
			if low, err := isLowS(cert.Signature, pub); err != nil || !low {
				bad = append(bad, path)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("certificates with high-S signatures that Fabric rejects: %v", bad)
	}
	return nil
}

func (n *Network) channelBlock(ctx context.Context) error {
	tmpl, err := template.ParseFiles(filepath.Join(n.configDir(), "configtx.yaml.tmpl"))
	if err != nil {
		return err
	}
	path := filepath.Join(n.Layout.Home, "configtx.yaml")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = tmpl.Execute(f, map[string]any{
		"Crypto":       n.Layout.CryptoDir(),
		"Orderers":     n.Layout.Orderers(),
		"Peers":        n.Layout.Peers(),
		"BatchTimeout": n.BatchTimeout.String(),
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("render configtx.yaml: %w", err)
	}
	if err := os.MkdirAll(n.Layout.ChannelDir(), 0o755); err != nil {
		return err
	}
	_, err = n.run(ctx, append(n.baseEnv(), "FABRIC_CFG_PATH="+n.Layout.Home), "configtxgen",
		"-profile", "SupplyChain", "-channelID", topology.Channel, "-outputBlock", n.Layout.GenesisBlock())
	return err
}

func (n *Network) joinOrderers(ctx context.Context) error {
	for _, o := range n.Layout.Orderers() {
		args := append([]string{"channel", "join", "--channelID", topology.Channel, "--config-block", n.Layout.GenesisBlock()}, n.osnadminArgs(o)...)
		err := retry(ctx, 30*time.Second, func(ctx context.Context) error {
			out, err := n.run(ctx, n.baseEnv(), "osnadmin", args...)
			if err == nil && !strings.Contains(string(out), "Status: 201") && !strings.Contains(string(out), "already exists") {
				return fmt.Errorf("%s: unexpected answer: %s", o.Name, out)
			}
			if err != nil && strings.Contains(err.Error(), "already exists") {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("join %s: %w", o.Name, err)
		}
	}
	return nil
}

func (n *Network) joinPeers(ctx context.Context) error {
	// Together: a peer that joins probes the anchor peers of the other orgs,
	// and a probe of a peer that has not joined yet fails and waits for the
	// next gossip reconnect.
	return inParallel(n.Layout.Peers(), func(p topology.Node) error {
		err := retry(ctx, 60*time.Second, func(ctx context.Context) error {
			_, err := n.run(ctx, n.adminEnv(p), "peer", "channel", "join", "-b", n.Layout.GenesisBlock())
			if err != nil && strings.Contains(err.Error(), "already exists") {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("join %s (log: %s): %w", p.Name, n.Layout.LogFile(p.Name), err)
		}
		return nil
	})
}

// waitLeader waits until one orderer reports itself Raft leader of the channel.
func (n *Network) waitLeader(ctx context.Context, timeout time.Duration) error {
	return retry(ctx, timeout, func(ctx context.Context) error {
		for _, o := range n.Layout.Orderers() {
			c, err := n.opsClient(o)
			if err != nil {
				return err
			}
			if v, err := c.metric(ctx, `consensus_etcdraft_is_leader{channel="`+topology.Channel+`"}`); err == nil && v == 1 {
				return nil
			}
		}
		return errors.New("no orderer is Raft leader yet")
	})
}

// waitGossip waits until every peer's gossip membership on the channel holds
// all the other peers. The gateway's discovery names endorsers from that
// membership, so until then a transaction whose policy needs a particular
// org (a shipment's exporter and custodian) fails with "no combination of
// peers can be derived which satisfy the endorsement policy".
func (n *Network) waitGossip(ctx context.Context, timeout time.Duration) error {
	peers := n.Layout.Peers()
	return retry(ctx, timeout, func(ctx context.Context) error {
		for _, p := range peers {
			c, err := n.opsClient(p)
			if err != nil {
				return err
			}
			known, err := c.metric(ctx, `gossip_membership_total_peers_known{channel="`+topology.Channel+`"}`)
			if err != nil || int(known) < len(peers)-1 {
				return fmt.Errorf("%s knows %v of the other %d peers (%v)", p.Name, known, len(peers)-1, err)
			}
		}
		return nil
	})
}

// writeProfile writes the connection material clients use.
func (n *Network) writeProfile() error {
	l := n.Layout
	prof := fabric.Profile{Channel: topology.Channel, Chaincode: topology.Chaincode, Orgs: map[string]fabric.Org{}}
	for _, p := range l.Peers() {
		users := n.profileUsers(p.Org)
		prof.Orgs[p.Org.MSPID] = fabric.Org{
			MSPID: p.Org.MSPID,
			Peers: []fabric.Peer{{Name: p.Host, Endpoint: p.Address(), TLSRootCA: l.TLSCACert(p.Org), ServerName: p.IP}},
			Users: users,
		}
	}
	if err := prof.Validate(); err != nil {
		return err
	}
	if err := prof.Save(l.ConnectionProfile()); err != nil {
		return err
	}
	if l.Hosts == nil {
		return nil
	}
	// On the hosts layout each member's services read a profile with only
	// their own organisation: its peer (on its host) and its users' files.
	for _, p := range l.Peers() {
		own := fabric.Profile{Channel: prof.Channel, Chaincode: prof.Chaincode,
			Orgs: map[string]fabric.Org{p.Org.MSPID: prof.Orgs[p.Org.MSPID]}}
		if err := own.Save(n.orgProfile(p.Org)); err != nil {
			return err
		}
	}
	return nil
}

// orgProfile is the connection profile of one member's services on the
// hosts layout.
func (n *Network) orgProfile(org topology.Org) string {
	return filepath.Join(n.Layout.Home, "connection-"+org.Label+".json")
}
