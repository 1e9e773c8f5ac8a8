package localnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/ccaas"
)

// EndorsementPolicy is the chaincode-level endorsement policy: any two of the
// three member organisations. No single member can write the shared record on
// its own word, and writes still commit while one member's peer is down.
const EndorsementPolicy = "OutOf(2,'ExporterMSP.peer','CarrierMSP.peer','RetailerMSP.peer')"

// endorsementPolicy is the chaincode-level policy of this network: any two
// of its members' peers, the founding three (EndorsementPolicy) and every
// member that joined since (network/README.md, "A member joins": a new key
// may be endorsed by any two members, the new one included).
func (n *Network) endorsementPolicy() string {
	var peers []string
	for _, org := range n.Layout.PeerOrgs() {
		peers = append(peers, "'"+org.MSPID+".peer'")
	}
	return "OutOf(2," + strings.Join(peers, ",") + ")"
}

// Deploy packages the chaincode as an external service (one package, the
// same for every org: see ccaas.Package), installs it on each org's peer,
// has each org's admin approve the new definition (one approval per
// organisation, in turn, each with its own admin identity, as separate
// companies would), and commits it. Each call takes the next sequence, so it
// serves both the first deployment and every upgrade. An empty version means
// "1.<sequence-1>".
//
// An upgrade never leaves the channel without a chaincode server: the new
// package's servers start beside the old ones, on their own addresses (see
// ccServerSlots), before anything is approved; the old servers keep
// endorsing under the committed definition until the new one commits on
// every peer, and stop only after that and a drain period, so that
// proposals still running on them finish.
func (n *Network) Deploy(ctx context.Context, version string) error {
	st, err := n.LoadState()
	if err != nil {
		return fmt.Errorf("no network in %s (run `up` first): %w", n.Layout.Home, err)
	}
	seq := st.Chaincode.Sequence + 1
	if version == "" {
		version = fmt.Sprintf("1.%d", seq-1)
	}
	label := topology.Chaincode + "_" + version
	if st.Packages == nil {
		st.Packages = map[string]string{}
	}
	if st.CCSlots == nil {
		st.CCSlots = map[string]int{}
	}
	var pkg []byte
	if err := n.step("package "+label, func() error {
		pkg, err = n.ChaincodePackage(ctx, label)
		return err
	}); err != nil {
		return err
	}
	pkgID := ccaas.PackageID(label, pkg)
	running := runningPackage(st)
	oldSlot := st.slotOf(running)
	slot, err := st.assignSlot(label, pkgID, running)
	if err != nil {
		return err
	}
	// The address of every label this network ever installed, before the
	// install: the peer's builder reads it then, and keeps what it built.
	if err := n.writeCCAddresses(st); err != nil {
		return err
	}
	if err := n.saveState(st); err != nil {
		return err
	}
	for _, p := range n.Layout.Peers() {
		if err := n.step(fmt.Sprintf("install %s on %s", label, p.Name), func() error {
			id, err := n.install(ctx, p, label, label, pkg)
			if err == nil && id != pkgID {
				err = fmt.Errorf("%s installed %s as %s, want %s", p.Name, label, id, pkgID)
			}
			return err
		}); err != nil {
			return err
		}
	}
	if pkgID != running {
		what := fmt.Sprintf("start %s chaincode servers beside the running ones (port offset +%d)", label, slot)
		if running == "" {
			what = fmt.Sprintf("start %s chaincode servers (port offset +%d)", label, slot)
		}
		if err := n.step(what, func() error {
			return inParallel(n.Layout.Peers(), func(p topology.Node) error {
				// Anything left in the slot is an earlier package's stale
				// server (the running one is elsewhere): replace it.
				if err := proc.Stop(ctx, n.Layout.PIDFile(ccServerNameAt(p, slot)), 10*time.Second); err != nil {
					return err
				}
				return n.startCCServerAt(ctx, p, pkgID, slot)
			})
		}); err != nil {
			return err
		}
	}
	def := definition{topology.Chaincode, version, seq, n.endorsementPolicy()}
	for _, p := range n.Layout.Peers() {
		if err := n.step(fmt.Sprintf("approve %s seq %d for %s (its admin)", version, seq, p.Org.MSPID), func() error {
			return n.approve(ctx, p, def, pkgID)
		}); err != nil {
			return err
		}
	}
	if err := n.step(fmt.Sprintf("commit %s seq %d (policy %s)", version, seq, def.policy), func() error {
		return n.commit(ctx, def)
	}); err != nil {
		return err
	}
	for _, p := range n.Layout.Peers() {
		st.Packages[p.Org.MSPID] = pkgID
	}
	st.Chaincode = ChaincodeState{Version: version, Sequence: seq, Policy: def.policy}
	if err := n.saveState(st); err != nil {
		return err
	}
	if running != "" && pkgID != running && slot != oldSlot {
		if err := n.step(fmt.Sprintf("stop the old chaincode servers (%s) after a %s drain", running, ccDrain), func() error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(ccDrain):
			}
			return inParallel(n.Layout.Peers(), func(p topology.Node) error {
				return proc.Stop(ctx, n.Layout.PIDFile(ccServerNameAt(p, oldSlot)), 10*time.Second)
			})
		}); err != nil {
			return err
		}
	}
	if st.Crypto != CryptoCA {
		// cryptogen's certificates carry no shiptrace.role, and the contract
		// refuses an identity without one: such a network measures Fabric
		// only, and has no member registry.
		return nil
	}
	return n.CommitMembers(ctx)
}

// ccDrain is how long the old chaincode servers keep running after the new
// definition committed on every peer: a proposal that a peer started on the
// old definition just before the commit block still runs on them.
const ccDrain = 3 * time.Second

// install writes the chaincode package to packages/<file>.tar.gz and
// installs it on p's peer, returning the package ID the peer reports for it.
func (n *Network) install(ctx context.Context, p topology.Node, file, label string, pkg []byte) (string, error) {
	dir := filepath.Join(n.Layout.Home, "packages")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, file+".tar.gz")
	if err := os.WriteFile(path, pkg, 0o600); err != nil {
		return "", err
	}
	want := ccaas.PackageID(label, pkg)
	err := retry(ctx, 60*time.Second, func(ctx context.Context) error {
		_, err := n.run(ctx, n.adminEnv(p), "peer", "lifecycle", "chaincode", "install", path)
		if err != nil && strings.Contains(err.Error(), "already successfully installed") {
			return nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	// The package ID is what the peer says it is: read it back.
	ids, err := n.installedPackages(ctx, p)
	if err != nil {
		return "", err
	}
	if slices.Contains(ids, want) {
		return want, nil
	}
	return "", fmt.Errorf("%s reports no package %s after install, only %v", p.Name, want, ids)
}

// InstalledPackages asks every org's peer which chaincode packages it has
// installed, by package ID.
func (n *Network) InstalledPackages(ctx context.Context) (map[string][]string, error) {
	ids := map[string][]string{}
	for _, p := range n.Layout.Peers() {
		list, err := n.installedPackages(ctx, p)
		if err != nil {
			return nil, err
		}
		ids[p.Org.MSPID] = list
	}
	return ids, nil
}

func (n *Network) installedPackages(ctx context.Context, p topology.Node) ([]string, error) {
	out, err := n.run(ctx, n.adminEnv(p), "peer", "lifecycle", "chaincode", "queryinstalled", "--output", "json")
	if err != nil {
		return nil, err
	}
	var installed struct {
		InstalledChaincodes []struct {
			PackageID string `json:"package_id"`
		} `json:"installed_chaincodes"`
	}
	if err := json.Unmarshal(out, &installed); err != nil {
		return nil, fmt.Errorf("queryinstalled on %s: %w: %s", p.Name, err, out)
	}
	var ids []string
	for _, ic := range installed.InstalledChaincodes {
		ids = append(ids, ic.PackageID)
	}
	return ids, nil
}

// ChaincodePackage builds the ccaas package from the chaincode module's source
// digest. Nothing in it belongs to one org (each peer supplies its address and
// TLS files through ccaas.ConfigEnv), so every member that builds from the
// same commit installs the same bytes under the same package ID.
func (n *Network) ChaincodePackage(ctx context.Context, label string) ([]byte, error) {
	digest, err := ccaas.SourceDigest(ctx, filepath.Join(n.Repo, "chaincode"), chaincodeMain)
	if err != nil {
		return nil, err
	}
	return ccaas.Package(label, digest)
}

// startCCServerAt starts the org's chaincode server for a package ID in a
// slot and waits until it accepts connections.
func (n *Network) startCCServerAt(ctx context.Context, p topology.Node, packageID string, slot int) error {
	return n.startServer(ctx, ccServerNameAt(p, slot), n.chaincodeBin(), n.ccServerEnv(p, packageID, slot), p, p.Port+slot)
}

// startServer starts a chaincode server process unless it runs, and waits
// until it accepts connections on port.
// It runs on the peer's host.
func (n *Network) startServer(ctx context.Context, name, bin string, env []string, p topology.Node, port int) error {
	if _, ok := proc.Running(n.Layout.PIDFile(name)); ok {
		return nil
	}
	_, err := proc.Start(proc.Spec{Name: name, Path: bin, Env: env, NetNS: p.NetNS,
		Dir: n.Layout.Home, LogFile: n.Layout.LogFile(name), PIDFile: n.Layout.PIDFile(name)})
	if err != nil {
		return err
	}
	addr := p.AddrOf(port)
	return retry(ctx, 20*time.Second, func(ctx context.Context) error {
		if _, ok := proc.Running(n.Layout.PIDFile(name)); !ok {
			return n.exited(name)
		}
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("%s not listening on %s; see %s", name, addr, n.Layout.LogFile(name))
		}
		return c.Close()
	})
}

// definition is a chaincode definition on the channel, under its
// endorsement policy (EndorsementPolicy when empty).
type definition struct {
	name, version string
	seq           int
	policy        string
}

func (d definition) signaturePolicy() string {
	if d.policy == "" {
		return EndorsementPolicy
	}
	return d.policy
}

func (n *Network) approve(ctx context.Context, p topology.Node, def definition, pkgID string) error {
	args := append([]string{"lifecycle", "chaincode", "approveformyorg", "--channelID", topology.Channel,
		"--name", def.name, "--version", def.version, "--sequence", strconv.Itoa(def.seq),
		"--package-id", pkgID, "--signature-policy", def.signaturePolicy(), "--waitForEvent"}, n.ordererClientArgs(p)...)
	return retry(ctx, 90*time.Second, func(ctx context.Context) error {
		_, err := n.run(ctx, n.adminEnv(p), "peer", args...)
		if err != nil && strings.Contains(err.Error(), "attempted to redefine uncommitted sequence") && strings.Contains(err.Error(), "unchanged content") {
			return nil
		}
		return err
	})
}

func (n *Network) commit(ctx context.Context, def definition) error {
	return n.commitOn(ctx, def, n.Layout.Peers())
}

// commitOn commits def endorsed by peers only: a peer endorses a commit
// only when its own organisation approved the definition (a member that
// is leaving does not).
func (n *Network) commitOn(ctx context.Context, def definition, peers []topology.Node) error {
	args := []string{"lifecycle", "chaincode", "commit", "--channelID", topology.Channel,
		"--name", def.name, "--version", def.version, "--sequence", strconv.Itoa(def.seq),
		"--signature-policy", def.signaturePolicy(), "--waitForEvent"}
	for _, p := range peers {
		args = append(args, "--peerAddresses", p.Address(), "--tlsRootCertFiles", n.Layout.TLSCACert(p.Org))
	}
	args = append(args, n.ordererClientArgs(peers[0])...)
	err := retry(ctx, 90*time.Second, func(ctx context.Context) error {
		_, err := n.run(ctx, n.adminEnv(peers[0]), "peer", args...)
		return err
	})
	if err != nil {
		return err
	}
	// Every peer must see the new definition before we call it deployed.
	for _, p := range peers {
		err := retry(ctx, 30*time.Second, func(ctx context.Context) error {
			committed, err := n.CommittedDefinition(ctx, p, def.name)
			if err != nil {
				return err
			}
			if committed.Sequence != def.seq {
				return fmt.Errorf("%s sees %s sequence %d, want %d", p.Name, def.name, committed.Sequence, def.seq)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// WritePackage writes the chaincode package of version (label
// shiptrace_<version>) built from this checkout to path and returns its
// package ID: what each member of a real consortium does before it installs
// and approves an upgrade, and compares with the ID the others approve.
func (n *Network) WritePackage(ctx context.Context, version, path string) (string, error) {
	label := topology.Chaincode + "_" + version
	pkg, err := n.ChaincodePackage(ctx, label)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pkg, 0o644); err != nil {
		return "", fmt.Errorf("write chaincode package: %w", err)
	}
	return ccaas.PackageID(label, pkg), nil
}

// Committed is a chaincode definition as a peer reports it committed on
// the channel.
type Committed struct {
	Sequence int    `json:"sequence"`
	Version  string `json:"version"`
	// ValidationParameter is the definition's endorsement policy, a
	// serialised peer.ApplicationPolicy.
	ValidationParameter []byte `json:"validation_parameter"`
}

// CommittedDefinition asks p's peer, as its organisation's admin, for the
// definition of chaincode name committed on the channel: what Fabric
// enforces, whatever network.json says.
func (n *Network) CommittedDefinition(ctx context.Context, p topology.Node, name string) (Committed, error) {
	var c Committed
	out, err := n.run(ctx, n.adminEnv(p), "peer", "lifecycle", "chaincode", "querycommitted",
		"--channelID", topology.Channel, "--name", name, "--output", "json")
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(out, &c); err != nil {
		return c, fmt.Errorf("decode the committed definition of %s on %s: %w", name, p.Name, err)
	}
	return c, nil
}

// committedOnChannel tells whether def's sequence is already committed,
// asking p's peer: a join or removal that stopped between Fabric's commit
// and saving network.json finds its commit there (approving the same
// sequence again would be refused), not in network.json.
func (n *Network) committedOnChannel(ctx context.Context, p topology.Node, def definition) (bool, error) {
	c, err := n.CommittedDefinition(ctx, p, def.name)
	if err != nil {
		return false, err
	}
	return c.Sequence >= def.seq, nil
}
