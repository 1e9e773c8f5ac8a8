// Package ccaas implements the peer's external builder for chaincode that runs
// as an external service (package type "ccaas"). Fabric runs three programs
// from the builder's bin folder (see "External Builders and Launchers" in the
// Fabric docs):
//
//	detect SOURCE METADATA        exit 0 if this builder handles the package
//	build  SOURCE METADATA OUTPUT turn the package into a build output
//	release BUILD RELEASE         publish what the peer needs to run it
//
// For chaincode-as-a-service there is nothing to compile: the package carries a
// connection.json telling the peer where the chaincode server listens and how
// to reach it over TLS. Its values may be templates over the peer's
// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG, as with Fabric's own ccaas builder, so
// that one package serves every member. build renders and validates the file,
// so a bad package or a peer without its configuration fails at install time
// with a clear message instead of at the first transaction.
//
// Fabric's builder (ccaas_builder in the Fabric repository) is a nested Go
// module that the module proxy does not serve for the pinned Fabric commit
// (403 for github.com/hyperledger/fabric/ccaas_builder and .../v2/ccaas_builder
// at v0.0.0-20230401164317-bd8e24856939), and it cannot read TLS material from
// files, which keeping keys out of the shared package needs. This package
// follows its interface and its configuration variable instead.
package ccaas

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Type is the package type this builder accepts.
const Type = "ccaas"

// Connection is the connection.json of a ccaas package, in the form the
// peer reads from RELEASE/chaincode/server/connection.json.
type Connection struct {
	Address            string `json:"address"`
	DialTimeout        string `json:"dial_timeout,omitempty"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required,omitempty"`
	ClientKey          string `json:"client_key,omitempty"`  // PEM: the peer's TLS client key
	ClientCert         string `json:"client_cert,omitempty"` // PEM: the peer's TLS client certificate
	RootCert           string `json:"root_cert,omitempty"`   // PEM: CA that issued the server's certificate
}

// Validate reports the first problem that would stop the peer from connecting.
func (c Connection) Validate() error {
	if c.Address == "" {
		return errors.New("connection.json: address is required (host:port of the chaincode server)")
	}
	if !strings.Contains(c.Address, ":") {
		return fmt.Errorf("connection.json: address %q must be host:port", c.Address)
	}
	if c.DialTimeout != "" {
		if _, err := time.ParseDuration(c.DialTimeout); err != nil {
			return fmt.Errorf("connection.json: dial_timeout %q: %w", c.DialTimeout, err)
		}
	}
	if c.TLSRequired && !strings.Contains(c.RootCert, "BEGIN CERTIFICATE") {
		return errors.New("connection.json: tls_required needs root_cert (PEM)")
	}
	if c.ClientAuthRequired {
		if !c.TLSRequired {
			return errors.New("connection.json: client_auth_required needs tls_required")
		}
		if !strings.Contains(c.ClientCert, "BEGIN CERTIFICATE") || !strings.Contains(c.ClientKey, "PRIVATE KEY") {
			return errors.New("connection.json: client_auth_required needs client_cert and client_key (PEM)")
		}
	}
	return nil
}

// Detect returns nil when metadataDir/metadata.json declares a ccaas package.
func Detect(metadataDir string) error {
	b, err := os.ReadFile(filepath.Join(metadataDir, "metadata.json"))
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	var md struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return fmt.Errorf("detect: metadata.json: %w", err)
	}
	if !strings.EqualFold(md.Type, Type) {
		return fmt.Errorf("detect: package type %q is not %q", md.Type, Type)
	}
	return nil
}

// Build renders sourceDir/connection.json with the peer's config (the decoded
// ConfigEnv object; nil when the peer sets none), validates it and writes it,
// with any META-INF folder (state database indexes), into outputDir.
func Build(sourceDir, metadataDir, outputDir string, config map[string]string) error {
	if err := Detect(metadataDir); err != nil {
		return err
	}
	config, err := addressForLabel(metadataDir, config)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(sourceDir, "connection.json"))
	if err != nil {
		return fmt.Errorf("build: the package has no connection.json: %w", err)
	}
	var c Connection
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("build: connection.json: %w", err)
	}
	if c, err = c.render(config); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if b, err = json.Marshal(c); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.MkdirAll(outputDir, 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outputDir, "connection.json"), b, 0o600); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if meta := filepath.Join(sourceDir, "META-INF"); isDir(meta) {
		if err := os.CopyFS(filepath.Join(outputDir, "META-INF"), os.DirFS(meta)); err != nil {
			return fmt.Errorf("build: copy META-INF: %w", err)
		}
	}
	return nil
}

// Release publishes the connection for the peer and, where present, the state
// database indexes.
func Release(buildDir, releaseDir string) error {
	b, err := os.ReadFile(filepath.Join(buildDir, "connection.json"))
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	server := filepath.Join(releaseDir, "chaincode", "server")
	if err := os.MkdirAll(server, 0o755); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := os.WriteFile(filepath.Join(server, "connection.json"), b, 0o600); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if idx := filepath.Join(buildDir, "META-INF", "statedb"); isDir(idx) {
		if err := os.CopyFS(filepath.Join(releaseDir, "statedb"), os.DirFS(idx)); err != nil {
			return fmt.Errorf("release: copy statedb indexes: %w", err)
		}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
