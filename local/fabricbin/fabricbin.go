// Package fabricbin builds the pinned Hyperledger Fabric and Fabric CA
// binaries from source through the Go module proxy and caches them, so a
// machine never downloads prebuilt binaries and a second `up` does not rebuild.
//
// The proxy refuses Fabric's v2.x tags (they are not Go-module compatible), but
// serves the release-2.5 commit as a pseudo-version. Its module has no usable
// vendor tree and the module cache is read-only, so the build runs from a
// writable copy of the source with -mod=mod.
package fabricbin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Spec pins one module and the commands built from it.
type Spec struct {
	Module     string   // module path
	Version    string   // exact version the proxy serves
	Release    string   // release number stamped into the binaries
	VersionVar string   // package variable the release is stamped into
	Tools      []string // commands under ./cmd
	CGO        bool     // the build needs cgo (Fabric CA's SQLite registry)
	Patches    []Patch  // fixes applied to the source copy before building
}

// Patch replaces one exact piece of a source file. A patch whose Old text is
// not found fails the build: the pinned source is not what we patched.
type Patch struct {
	Name string // names the patch in the cache folder and in errors
	File string // path inside the module
	Old  string
	New  string
}

// Fabric is the release-2.5 commit bd8e24856939 of Hyperledger Fabric.
var Fabric = Spec{
	Module:     "github.com/hyperledger/fabric",
	Version:    "v1.4.0-rc1.0.20230401164317-bd8e24856939",
	Release:    "2.5.0",
	VersionVar: "github.com/hyperledger/fabric/common/metadata.Version",
	Tools:      []string{"peer", "orderer", "configtxgen", "cryptogen", "osnadmin", "configtxlator"},
	Patches:    raftWALDeadlock,
}

// raftWALDeadlock backports the fix of Fabric issue #4199 (pull request
// #4201, released in 2.5.1, after the commit the proxy serves): on restart an
// orderer replaying Raft configuration changes could deadlock, its chain
// waiting for the node goroutine to sync the WAL while the node goroutine
// waited for the chain to take the next batch. The fix syncs the WAL in the
// node goroutine, before it hands a batch with configuration changes over.
// Seen here: after a stop and start, all three orderers hung with no leader.
var raftWALDeadlock = []Patch{
	{
		Name: "fab4201",
		File: "orderer/consensus/etcdraft/chain.go",
		Old: `			// persist the WAL entries into disk
			c.Node.storage.WALSyncC <- struct{}{}
`,
		New: `			// The node goroutine synced the WAL before handing these
			// entries over (backport of Fabric pull request #4201).
`,
	},
	{
		Name: "fab4201",
		File: "orderer/consensus/etcdraft/node.go",
		Old: `			if len(rd.CommittedEntries) != 0 || rd.SoftState != nil {
				n.chain.applyC <- apply{rd.CommittedEntries, rd.SoftState}
			}
`,
		New: `			if len(rd.CommittedEntries) != 0 || rd.SoftState != nil {
				n.syncWALBeforeConfChange(rd.CommittedEntries)
				n.chain.applyC <- apply{rd.CommittedEntries, rd.SoftState}
			}
`,
	},
	{
		Name: "fab4201",
		File: "orderer/consensus/etcdraft/node.go",
		Old:  `func (n *node) send(msgs []raftpb.Message) {`,
		New: `// syncWALBeforeConfChange persists the WAL before configuration changes
// are applied (backport of Fabric pull request #4201).
func (n *node) syncWALBeforeConfChange(entries []raftpb.Entry) {
	for _, e := range entries {
		if e.Type != raftpb.EntryNormal {
			if err := n.storage.Sync(); err != nil {
				n.logger.Errorf("Failed to sync raft log, error: %s", err)
			}
			return
		}
	}
}

func (n *node) send(msgs []raftpb.Message) {`,
	},
}

// FabricCA is Hyperledger Fabric CA 1.5.13; only the server is built, since
// identities are enrolled through fabric-sdk-go (see package identity).
var FabricCA = Spec{
	Module:     "github.com/hyperledger/fabric-ca",
	Version:    "v1.5.13",
	Release:    "1.5.13",
	VersionVar: "github.com/hyperledger/fabric-ca/lib/metadata.Version",
	Tools:      []string{"fabric-ca-server"},
	CGO:        true,
}

// Dir returns the cache folder of the spec's binaries under cacheRoot.
func (s Spec) Dir(cacheRoot string) string {
	short := s.Version[strings.LastIndexByte(s.Version, '-')+1:]
	name := filepath.Base(s.Module) + "-" + s.Release
	if short != s.Version {
		name += "-" + short
	}
	// Patched binaries get their own folder, so a patch change rebuilds.
	seen := map[string]bool{}
	for _, p := range s.Patches {
		if !seen[p.Name] {
			name += "+" + p.Name
			seen[p.Name] = true
		}
	}
	return filepath.Join(cacheRoot, name, "bin")
}

// Present reports whether every tool is already in binDir.
func (s Spec) Present(binDir string) bool {
	for _, t := range s.Tools {
		if fi, err := os.Stat(filepath.Join(binDir, t)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Build downloads the pinned module source and builds every tool into binDir.
// It writes into a temporary folder first and renames, so an interrupted build
// never leaves a half-filled cache that Present would accept.
func (s Spec) Build(ctx context.Context, binDir string, log func(string)) error {
	// Build beside the cache folder, so the final rename stays on one file system.
	parent := filepath.Dir(filepath.Dir(binDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("build %s: %w", s.Module, err)
	}
	work, err := os.MkdirTemp(parent, "fabric-build-")
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Module, err)
	}
	defer os.RemoveAll(work)

	log("downloading " + s.Module + "@" + s.Version + " through the Go module proxy")
	src, err := s.download(ctx, work)
	if err != nil {
		return err
	}
	copyDir := filepath.Join(work, "src")
	if err := copyTree(src, copyDir); err != nil {
		return fmt.Errorf("copy %s source: %w", s.Module, err)
	}
	for _, p := range s.Patches {
		if err := p.apply(copyDir); err != nil {
			return err
		}
	}
	out := filepath.Join(work, "bin")
	args := []string{"build", "-trimpath", "-o", out + "/", "-ldflags", "-X " + s.VersionVar + "=" + s.Release}
	for _, t := range s.Tools {
		args = append(args, "./cmd/"+t)
	}
	log("compiling " + strings.Join(s.Tools, ", "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = copyDir
	cgo := "CGO_ENABLED=0"
	if s.CGO {
		cgo = "CGO_ENABLED=1"
	}
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off", cgo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", s.Module, err, tail(stderr.String(), 40))
	}
	if err := os.MkdirAll(filepath.Dir(binDir), 0o755); err != nil {
		return err
	}
	_ = os.RemoveAll(binDir)
	if err := os.Rename(out, binDir); err != nil {
		return fmt.Errorf("install %s binaries: %w", s.Module, err)
	}
	return nil
}

// download fetches the module into the module cache and returns its folder.
func (s Spec) download(ctx context.Context, work string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", s.Module+"@"+s.Version)
	cmd.Dir = work // outside any module, so no go.mod is consulted or changed
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || runErr != nil || info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", s.Module, s.Version, runErr, info.Error, stderr.String())
	}
	return info.Dir, nil
}

func (p Patch) apply(root string) error {
	path := filepath.Join(root, p.File)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("patch %s: %w", p.Name, err)
	}
	if strings.Count(string(b), p.Old) != 1 {
		return fmt.Errorf("patch %s: %s does not contain the expected code once; the pinned source changed", p.Name, p.File)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), p.Old, p.New, 1)), 0o644)
}

// copyTree copies a read-only module folder into a writable one.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
