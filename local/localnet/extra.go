package localnet

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/ccaas"
)

// ExtraChaincode is a second chaincode deployed beside shiptrace, as an
// external service with one server per org on the org's ExtraCCServerPort,
// under the same endorsement policy. Benchmarks use one as a reference (a
// one-key write) measured on the same network in the same run. Its server
// reads the same environment as shiptrace's (CHAINCODE_SERVER_ADDRESS,
// CHAINCODE_ID, CHAINCODE_TLS_*) and, on a network with Profile, serves
// pprof on CHAINCODE_PPROF_ADDRESS. Start does not restart it: it lives for
// one benchmark.
type ExtraChaincode struct {
	Name      string // chaincode name on the channel
	ModuleDir string // Go module of its server (absolute)
	MainPkg   string // its main package, relative to ModuleDir
}

// ExtraServerName is the process name of an extra chaincode's server for
// a peer's org.
func ExtraServerName(name string, p topology.Node) string {
	return "chaincode-" + name + "." + p.Org.Label
}

// DeployExtra builds the chaincode's server, installs a package per org
// (its connection names the org's ExtraCCServerPort and takes the TLS files
// from the peer's configuration, like shiptrace's), starts the servers with
// the org's chaincode TLS certificate, approves for every org and commits
// sequence 1.
func (n *Network) DeployExtra(ctx context.Context, cc ExtraChaincode) error {
	st, err := n.LoadState()
	if err != nil {
		return fmt.Errorf("no network in %s (run `up` first): %w", n.Layout.Home, err)
	}
	bin := filepath.Join(n.helperBinDir(), cc.Name+"-cc")
	if err := n.step("build chaincode "+cc.Name, func() error { return n.goBuildIn(ctx, cc.ModuleDir, cc.MainPkg, bin) }); err != nil {
		return err
	}
	digest, err := ccaas.SourceDigest(ctx, cc.ModuleDir, cc.MainPkg)
	if err != nil {
		return fmt.Errorf("chaincode %s: %w", cc.Name, err)
	}
	def := definition{name: cc.Name, version: "1.0", seq: 1}
	label := cc.Name + "_" + def.version
	for _, p := range n.Layout.Peers() {
		conn := ccaas.SharedConnection
		conn.Address = p.AddrOf(p.ExtraCCServerPort())
		pkg, err := ccaas.PackageWith(label, digest, conn)
		if err != nil {
			return fmt.Errorf("package %s: %w", label, err)
		}
		var pkgID string
		if err := n.step(fmt.Sprintf("install %s on %s", label, p.Name), func() error {
			pkgID, err = n.install(ctx, p, label+"-"+p.Org.Label, label, pkg)
			return err
		}); err != nil {
			return err
		}
		name := ExtraServerName(cc.Name, p)
		if !slices.Contains(st.Extras, name) {
			st.Extras = append(st.Extras, name)
			if err := n.saveState(st); err != nil {
				return err
			}
		}
		if err := n.step("start "+name, func() error {
			return n.startServer(ctx, name, bin, n.extraServerEnv(p, pkgID), p, p.ExtraCCServerPort())
		}); err != nil {
			return err
		}
		if err := n.step(fmt.Sprintf("approve %s for %s", label, p.Org.MSPID), func() error {
			return n.approve(ctx, p, def, pkgID)
		}); err != nil {
			return err
		}
	}
	return n.step(fmt.Sprintf("commit %s (policy %s)", label, EndorsementPolicy), func() error {
		return n.commit(ctx, def)
	})
}

// extraServerEnv is ccServerEnv on the extra chaincode's ports.
func (n *Network) extraServerEnv(p topology.Node, packageID string) []string {
	env := append(n.ccServerEnv(p, packageID, ccServerSlots[0]), "CHAINCODE_SERVER_ADDRESS="+p.AddrOf(p.ExtraCCServerPort()))
	if n.Profile {
		env = append(env, "CHAINCODE_PPROF_ADDRESS="+p.AddrOf(p.ExtraCCProfilePort()))
	}
	return env
}
