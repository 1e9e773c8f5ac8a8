// Package fabricbin builds the pinned Hyperledger Fabric node binaries from
// source through the Go module proxy and caches them, so a machine never
// downloads prebuilt binaries and a second `up` does not rebuild.
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

// Module and Version pin the Fabric source: the release-2.5 commit bd8e24856939.
const (
	Module  = "github.com/hyperledger/fabric"
	Version = "v1.4.0-rc1.0.20230401164317-bd8e24856939"
	// Release is stamped into the binaries (peer version prints it).
	Release = "2.5.0"
)

// Tools are the commands the network needs.
var Tools = []string{"peer", "orderer", "configtxgen", "cryptogen", "osnadmin", "configtxlator"}

// Dir returns the cache folder for the pinned version under cacheRoot.
func Dir(cacheRoot string) string {
	short := Version[strings.LastIndexByte(Version, '-')+1:]
	return filepath.Join(cacheRoot, "fabric-"+Release+"-"+short, "bin")
}

// Present reports whether every tool is already in the cache.
func Present(binDir string) bool {
	for _, t := range Tools {
		if fi, err := os.Stat(filepath.Join(binDir, t)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Build downloads the pinned module source and builds every tool into binDir.
// It writes into a temporary folder first and renames, so an interrupted build
// never leaves a half-filled cache that Present would accept.
func Build(ctx context.Context, binDir string, log func(string)) error {
	// Build beside the cache folder, so the final rename stays on one file system.
	parent := filepath.Dir(filepath.Dir(binDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("build fabric: %w", err)
	}
	work, err := os.MkdirTemp(parent, "fabric-build-")
	if err != nil {
		return fmt.Errorf("build fabric: %w", err)
	}
	defer os.RemoveAll(work)

	log("downloading " + Module + "@" + Version + " through the Go module proxy")
	src, err := download(ctx, work)
	if err != nil {
		return err
	}
	copyDir := filepath.Join(work, "src")
	if err := copyTree(src, copyDir); err != nil {
		return fmt.Errorf("copy fabric source: %w", err)
	}
	out := filepath.Join(work, "bin")
	args := []string{"build", "-trimpath", "-o", out + "/",
		"-ldflags", "-X " + Module + "/common/metadata.Version=" + Release}
	for _, t := range Tools {
		args = append(args, "./cmd/"+t)
	}
	log("compiling " + strings.Join(Tools, ", ") + " (a few minutes on 2 cores)")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = copyDir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build fabric: %w\n%s", err, tail(stderr.String(), 40))
	}
	if err := os.MkdirAll(filepath.Dir(binDir), 0o755); err != nil {
		return err
	}
	_ = os.RemoveAll(binDir)
	if err := os.Rename(out, binDir); err != nil {
		return fmt.Errorf("install fabric binaries: %w", err)
	}
	return nil
}

// download fetches the module into the module cache and returns its folder.
func download(ctx context.Context, work string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", Module+"@"+Version)
	cmd.Dir = work // outside any module, so no go.mod is consulted or changed
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || runErr != nil || info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", Module, Version, runErr, info.Error, stderr.String())
	}
	return info.Dir, nil
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
