package network_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/shiptrace/shiptrace/test/testnet"
)

// privateShipnet runs shipnet against a private data directory and base port,
// so these tests never disturb the shared network.
func privateShipnet(t *testing.T, base int) (home string, run func(args ...string) (string, error)) {
	t.Helper()
	net := testnet.Require(t) // builds shipnet and the cached binaries
	home = filepath.Join(t.TempDir(), "net")
	bin := filepath.Join(net.Repo, ".cache", "bin", "shipnet")
	run = func(args ...string) (string, error) {
		cmd := exec.Command(bin, append(args, "--home", home, "--base-port", strconv.Itoa(base))...)
		cmd.Dir = net.Repo
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { run("down") })
	return home, run
}

func TestDownLeavesNoProcessAndNoData(t *testing.T) {
	home, run := privateShipnet(t, 27100)
	if out, err := run("up"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	pids := pidsUnder(t, filepath.Join(home, "run"))
	want := []string{"orderer1", "orderer2", "orderer3", "peer0.exporter", "peer0.carrier", "peer0.retailer",
		"chaincode.exporter", "chaincode.carrier", "chaincode.retailer",
		"ca.orderer", "ca.exporter", "ca.carrier", "ca.retailer", "gateway", "notifier", "wa-standin"}
	for _, name := range want {
		if _, ok := pids[name+".pid"]; !ok {
			t.Errorf("up did not start %s (tracked: %v)", name, pids)
		}
	}
	if len(pids) != len(want) {
		t.Fatalf("up tracks %d processes, want %d", len(pids), len(want))
	}
	if out, err := run("down"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil && !isZombie(pid) {
			t.Errorf("%s (pid %d) still running after down", name, pid)
		}
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(home)
		t.Fatalf("data directory left behind after down: %v", entries)
	}
	// And the network comes up again from nothing.
	if out, err := run("up"); err != nil {
		t.Fatalf("up after down: %v\n%s", err, out)
	}
	if out, err := run("status"); err != nil {
		t.Fatalf("status after the second up: %v\n%s", err, out)
	}
}

func TestUpFailsLoudlyWhenAPortIsTaken(t *testing.T) {
	_, run := privateShipnet(t, 27200)
	l, err := net.Listen("tcp", "127.0.0.1:27241") // peer0.carrier's chaincode listener
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := run("up")
	if err == nil {
		t.Fatalf("up succeeded with port 27241 taken:\n%s", out)
	}
	if !strings.Contains(out, "port 27241") || !strings.Contains(out, "peer0.carrier") {
		t.Fatalf("up failed without naming the port and the node:\n%s", out)
	}
}

func pidsUnder(t *testing.T, runDir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(runDir, "*.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		pids[filepath.Base(f)] = pid
	}
	return pids
}

// isZombie reports an exited process that its (foreign) parent has not reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
