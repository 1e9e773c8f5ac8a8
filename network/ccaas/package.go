package ccaas

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/dirhash"
)

// ConfigEnv is the environment variable that carries a peer's part of the
// connection: its chaincode server's address and its TLS files. It has the
// name and the role it has for Fabric's own ccaas builder (the peer passes it
// to the builder when core.yaml lists it under propagateEnvironment), so the
// package itself holds nothing that differs between members.
const ConfigEnv = "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"

// SharedConnection is the connection.json every member's package carries. Its
// string values are templates over the peer's ConfigEnv object; `file` reads a
// PEM file named there. A member's address, certificates and key therefore
// stay on the member's peer, and the package, and with it the package ID, is
// the same for every member that builds from the same commit.
var SharedConnection = Connection{
	Address:            "{{.address}}",
	DialTimeout:        "10s",
	TLSRequired:        true,
	ClientAuthRequired: true,
	RootCert:           "{{file .root_cert_file}}",
	ClientCert:         "{{file .client_cert_file}}",
	ClientKey:          "{{file .client_key_file}}",
}

// SourceFile is the file in the package's code archive that names the
// chaincode's source. The peer's builder ignores it; it is there so that the
// package ID, which is a hash of the package, changes whenever the contract's
// code or its dependency versions do. Without it every ccaas package with the
// same label would have the same ID whatever code its members run.
const SourceFile = "source.sum"

// Package returns the ccaas chaincode package for label: metadata.json and a
// code.tar.gz holding SharedConnection and the source digest. Entries, times
// and modes are fixed, so equal inputs give byte-identical packages.
func Package(label, sourceDigest string) ([]byte, error) {
	return PackageWith(label, sourceDigest, SharedConnection)
}

// PackageWith is Package with another connection.json: a chaincode whose
// server address is not the peer's configured one (a benchmark's reference
// chaincode beside shiptrace) names it literally and still takes its TLS
// files from the peer's ConfigEnv.
func PackageWith(label, sourceDigest string, c Connection) ([]byte, error) {
	conn, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	code, err := tarGz([]file{{"connection.json", conn}, {SourceFile, []byte(sourceDigest + "\n")}})
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(struct {
		Type  string `json:"type"`
		Label string `json:"label"`
	}{Type, label})
	if err != nil {
		return nil, err
	}
	return tarGz([]file{{"metadata.json", meta}, {"code.tar.gz", code}})
}

// PackageID is the ID a peer gives an installed package: label and the
// SHA-256 of the package bytes.
func PackageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

// SourceDigest hashes what the chaincode server at mainPkg (a package path
// relative to moduleDir) is compiled from: the Go and embedded files of every
// package of moduleDir's module and of modules it replaces with local
// directories (the domain), and the module's go.mod and go.sum, which fix
// every dependency's version. Test files, documentation and file times do not
// count. The result is in go.sum's "h1:" form.
func SourceDigest(ctx context.Context, moduleDir, mainPkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-json=ImportPath,Dir,GoFiles,CgoFiles,EmbedFiles,Module", mainPkg)
	cmd.Dir = moduleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s in %s: %w: %s", mainPkg, moduleDir, err, strings.TrimSpace(stderr.String()))
	}
	root, err := filepath.Abs(moduleDir)
	if err != nil {
		return "", err
	}
	files := map[string]string{ // name in the digest -> path on disk
		"go.mod": filepath.Join(root, "go.mod"),
		"go.sum": filepath.Join(root, "go.sum"),
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			ImportPath                    string
			Dir                           string
			GoFiles, CgoFiles, EmbedFiles []string
			Module                        *struct {
				Path    string
				Dir     string
				Main    bool
				Replace *struct{ Path string }
			}
		}
		if err := dec.Decode(&p); err != nil {
			return "", fmt.Errorf("go list output: %w", err)
		}
		local := p.Module != nil && (p.Module.Main || (p.Module.Replace != nil && isLocalPath(p.Module.Replace.Path)))
		if !local {
			continue // fixed by go.sum
		}
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles, p.EmbedFiles) {
			files[p.ImportPath+"/"+filepath.ToSlash(f)] = filepath.Join(p.Dir, f)
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return dirhash.Hash1(names, func(name string) (io.ReadCloser, error) { return os.Open(files[name]) })
}

func isLocalPath(p string) bool {
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || filepath.IsAbs(p)
}

type file struct {
	name string
	data []byte
}

// tarGz writes files in the given order with fixed times, owners and modes,
// so the archive depends on nothing but the files' names and contents.
func tarGz(files []file) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
