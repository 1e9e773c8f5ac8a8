// Package localnet runs the shiptrace consortium on one machine: three Raft
// orderers and one peer for each of the exporter, carrier and retailer orgs,
// all on 127.0.0.1, TLS everywhere (mutual where Fabric supports it), the
// channel "supplychain" created through the channel participation API, and the
// shiptrace chaincode running as an external service, one server per org.
//
// Every node is a plain process tracked by a PID file under the data
// directory; logs are in <home>/logs/<process>.log.
package localnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/local/fabricbin"
	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
)

// Network is the local consortium on this machine.
type Network struct {
	Layout       topology.Layout
	Repo         string        // repository root (configs, chaincode source)
	Cache        string        // build cache root (Fabric binaries, helper binaries)
	BatchTimeout time.Duration // orderer block cut timeout, written into the genesis block
	LogSpec      string        // FABRIC_LOGGING_SPEC for the nodes
	Crypto       string        // CryptoCA or CryptoCryptogen, for a new network
	Services     bool          // also run the gateway, notifier and WhatsApp stand-in
	// Profile starts peers and orderers (and extra chaincode servers) with
	// their pprof endpoint on ProfilePort, for a benchmark that asks; it is
	// not recorded, so a later start runs without it.
	Profile bool
	Out     io.Writer // progress lines
}

// State is what `up` recorded about the network it created.
type State struct {
	BasePort  int               `json:"basePort"`
	Crypto    string            `json:"crypto"`   // where the crypto material came from
	Services  bool              `json:"services"` // the quick start's services run with the network
	Complete  bool              `json:"complete"` // up got to the end once: channel joined, chaincode committed
	Chaincode ChaincodeState    `json:"chaincode"`
	Packages  map[string]string `json:"packages"` // MSP ID -> installed package ID
	// CCSlots is the port offset of each chaincode package label's servers
	// (see ccServerSlots), and CCOrder the labels by last deployment.
	CCSlots map[string]int `json:"ccSlots,omitempty"`
	CCOrder []string       `json:"ccOrder,omitempty"`
	// Extras are the processes of extra chaincodes (DeployExtra), which
	// stop and down stop too.
	Extras []string `json:"extras,omitempty"`
	// Hosts is set when the network runs on separate hosts (up --hosts).
	Hosts *topology.Hosts `json:"hosts,omitempty"`
	// IncompleteJoins are the MSP IDs of members whose `org add` stopped
	// half way; the same command again takes the join up.
	IncompleteJoins []string  `json:"incompleteJoins,omitempty"`
	Created         time.Time `json:"created"`
}

// ChaincodeState is the committed chaincode definition.
type ChaincodeState struct {
	Version  string `json:"version"`
	Sequence int    `json:"sequence"`
	// Policy is the definition's endorsement policy (EndorsementPolicy when
	// empty, as networks recorded before members could join).
	Policy string `json:"policy,omitempty"`
}

func (n *Network) fabricBin(tool string) string {
	return filepath.Join(fabricbin.Fabric.Dir(n.Cache), tool)
}

func (n *Network) helperBinDir() string { return filepath.Join(n.Cache, "bin") }
func (n *Network) builderDir() string   { return filepath.Join(n.Cache, "builders", "ccaas") }
func (n *Network) chaincodeBin() string { return filepath.Join(n.helperBinDir(), "shiptrace-cc") }

// step runs one named stage and prints one line with its duration.
func (n *Network) step(name string, f func() error) error {
	start := time.Now()
	err := f()
	d := time.Since(start).Seconds()
	if err != nil {
		fmt.Fprintf(n.Out, "FAIL %6.1fs  %s\n", d, name)
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(n.Out, "ok   %6.1fs  %s\n", d, name)
	return nil
}

// LoadState reads the state file; it returns os.ErrNotExist if the network
// was never created in this data directory.
func (n *Network) LoadState() (*State, error) {
	b, err := os.ReadFile(n.Layout.StateFile())
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", n.Layout.StateFile(), err)
	}
	return &s, nil
}

func (n *Network) saveState(s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := n.Layout.StateFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, n.Layout.StateFile())
}

// EnsureTools builds whatever binary is missing: the pinned Fabric tools (from
// source, cached), the external builder and the chaincode.
func (n *Network) EnsureTools(ctx context.Context) error {
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("the go command is not on PATH: install Go 1.26 (https://go.dev/doc/install)")
	}
	for _, spec := range []fabricbin.Spec{fabricbin.Fabric, fabricbin.FabricCA} {
		binDir := spec.Dir(n.Cache)
		if spec.Present(binDir) {
			continue
		}
		fmt.Fprintf(n.Out, "...         building %s %s from source into %s (once; a few minutes on 2 cores)\n", spec.Module, spec.Release, binDir)
		if err := n.step("build "+filepath.Base(spec.Module)+" "+spec.Release+" binaries", func() error {
			return spec.Build(ctx, binDir, func(msg string) { fmt.Fprintf(n.Out, "...         %s\n", msg) })
		}); err != nil {
			return err
		}
	}
	return n.step("build external builder, identity command, chaincode and services", func() error {
		if err := n.buildChaincode(ctx); err != nil {
			return err
		}
		if err := n.goBuild(ctx, "./identity/cmd/shiptrace-identity", n.identityBin()); err != nil {
			return err
		}
		if n.Services {
			if err := n.buildServices(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// EnsureChaincode builds only what a chaincode deployment needs: the peers'
// external builder and the chaincode server. `deploy` uses it, so that an
// upgrade under load does not spend a minute of both cores relinking the
// services it does not touch.
func (n *Network) EnsureChaincode(ctx context.Context) error {
	return n.step("build external builder and chaincode", func() error { return n.buildChaincode(ctx) })
}

func (n *Network) buildChaincode(ctx context.Context) error {
	if err := n.goBuild(ctx, "./network/cmd/ccaas-builder", filepath.Join(n.helperBinDir(), "ccaas-builder")); err != nil {
		return err
	}
	bin := filepath.Join(n.builderDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	for _, prog := range []string{"detect", "build", "release"} {
		link := filepath.Join(bin, prog)
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(n.helperBinDir(), "ccaas-builder"), link); err != nil {
			return err
		}
	}
	// The chaincode is its own module: built inside it, with its own
	// go.sum, never with the services' dependency versions.
	return n.goBuildIn(ctx, filepath.Join(n.Repo, "chaincode"), chaincodeMain, n.chaincodeBin())
}

// chaincodeMain is the chaincode server's package in the chaincode module.
const chaincodeMain = "./cmd/shiptrace-cc"

// goBuild compiles a package of this repository's root module.
func (n *Network) goBuild(ctx context.Context, pkg, out string) error {
	return n.goBuildIn(ctx, n.Repo, pkg, out)
}

// goBuildIn compiles pkg of the module in dir. The build goes to a temporary
// name and is renamed, so a running process keeps its executable intact;
// -trimpath keeps the checkout's location out of the binary.
func (n *Network) goBuildIn(ctx context.Context, dir, pkg, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".new"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, pkg)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
	}
	return os.Rename(tmp, out)
}

// run executes a Fabric CLI and returns its standard output. Errors carry the
// command's output, which is where Fabric explains itself.
func (n *Network) run(ctx context.Context, env []string, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.fabricBin(tool), args...)
	cmd.Env = env
	cmd.Dir = n.Layout.Home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String() + "\n" + stdout.String())
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", tool, firstArgs(args), err, lastLines(msg, 6))
	}
	return stdout.Bytes(), nil
}

// retry repeats f until it succeeds or the timeout passes. Fabric nodes refuse
// requests for a moment after they start (a peer not yet connected to the
// orderers, a Raft cluster without a leader), so admin steps need it.
func retry(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		err := f(ctx)
		var stop *permanentError
		if err == nil || errors.As(err, &stop) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

// RepoRoot finds the shiptrace repository at or above dir, so commands and
// tests work from any sub-folder.
func RepoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "network", "config", "core.yaml")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no shiptrace repository at or above %s (no network/config/core.yaml)", dir)
		}
	}
}

// inParallel runs f for every item at once and joins the errors: starting
// and stopping nodes, CAs and enrolments are independent per item, and on two
// cores most of their time is waiting.
func inParallel[T any](items []T, f func(T) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(items))
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// permanentError ends a retry at once: waiting longer cannot help (the
// process being waited for has exited).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// exited reports, as a permanent error, a process that died during start-up,
// with the end of its log.
func (n *Network) exited(name string) error {
	return &permanentError{fmt.Errorf("%s exited during start-up; see %s:\n%s", name, n.Layout.LogFile(name), logTail(n.Layout.LogFile(name), 8))}
}

// checkPortsFree fails loudly, naming the node, if any port is taken.
func (n *Network) checkPortsFree() error {
	if n.Layout.Hosts != nil {
		return nil // fresh namespaces: nothing else binds there
	}
	need := map[string][]int{}
	var names []string
	for _, node := range n.Layout.Nodes() {
		need[node.Name] = node.Ports()
		names = append(names, node.Name)
	}
	if n.Crypto == CryptoCA {
		for _, ca := range n.Layout.CAs() {
			need[ca.Name] = []int{ca.Port, ca.OpsPort}
			names = append(names, ca.Name)
		}
	}
	var errs []error
	for _, name := range names {
		for _, port := range need[name] {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				errs = append(errs, fmt.Errorf("port %d needed by %s is in use (another network or program? try --base-port or `down`)", port, name))
				continue
			}
			l.Close()
		}
	}
	return errors.Join(errs...)
}

// startNode starts a node process and waits until its operations endpoint
// answers /healthz, or fails naming the node and its log file.
func (n *Network) startNode(ctx context.Context, node topology.Node) error {
	var env []string
	var bin string
	if node.Kind == topology.Orderer {
		env, bin = n.ordererEnv(node), n.fabricBin("orderer")
	} else {
		env, bin = n.peerEnv(node), n.fabricBin("peer")
	}
	args := []string{}
	if node.Kind == topology.Peer {
		args = []string{"node", "start"}
	}
	if err := os.MkdirAll(n.Layout.NodeDir(node), 0o755); err != nil {
		return err
	}
	_, err := proc.Start(proc.Spec{Name: node.Name, Path: bin, Args: args, Env: env, Dir: n.Layout.NodeDir(node), NetNS: node.NetNS,
		LogFile: n.Layout.LogFile(node.Name), PIDFile: n.Layout.PIDFile(node.Name)})
	if err != nil {
		return err
	}
	return n.waitHealthy(ctx, node, 60*time.Second)
}

func (n *Network) waitHealthy(ctx context.Context, node topology.Node, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var hc *opsClient
	for {
		if _, ok := proc.Running(n.Layout.PIDFile(node.Name)); !ok {
			return n.exited(node.Name)
		}
		var err error
		if hc == nil {
			hc, err = n.opsClient(node)
		}
		if err == nil {
			err = hc.healthy(ctx)
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become healthy within %s (%v); see %s", node.Name, timeout, err, n.Layout.LogFile(node.Name))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func firstArgs(args []string) string {
	var parts []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func lastLines(s string, k int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > k {
		lines = lines[len(lines)-k:]
	}
	return strings.Join(lines, "\n")
}

func logTail(path string, k int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(string(b), k)
}
