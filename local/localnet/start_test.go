package localnet

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/fabricbin"
	"github.com/shiptrace/shiptrace/local/topology"
)

// A node that dies at start-up must fail `up` with its name, its log file and
// the last lines of that log, not with a timeout.
func TestStartNodeReportsANodeThatDies(t *testing.T) {
	cache := t.TempDir()
	bin := fabricbin.Fabric.Dir(cache)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// A real executable (not a script: the PID file check follows the
	// executable, and a script's executable is its interpreter).
	src := filepath.Join(t.TempDir(), "main.go")
	prog := "package main\nimport (\"fmt\"; \"os\")\nfunc main() { fmt.Fprintln(os.Stderr, \"panic: cannot open ledger: permission denied\"); os.Exit(2) }\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "orderer"), src)
	build.Env = append(os.Environ(), "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fake orderer: %v\n%s", err, out)
	}
	n := &Network{Layout: topology.Layout{BasePort: 27900, Home: t.TempDir()}, Cache: cache, Repo: t.TempDir(), Out: io.Discard}
	node := n.Layout.Orderers()[1]

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := n.startNode(ctx, node)
	if err == nil {
		t.Fatal("startNode succeeded for a node that exits at once")
	}
	for _, want := range []string{"orderer2", n.Layout.LogFile("orderer2"), "cannot open ledger"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
