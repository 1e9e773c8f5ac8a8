package ccaas

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// AddressesKey is the key of the peer's ConfigEnv object that names a JSON
// file of chaincode server addresses by package label, e.g.
// {"shiptrace_1.0": "127.0.0.1:17033", "shiptrace_1.1": "127.0.0.1:17037"}.
//
// An upgrade runs the new version's server beside the old one until the new
// definition commits, so the two need different addresses, while the package
// (shared by every member) names only "{{.address}}". The member writes the
// new label's address into this file before it installs the package; build
// takes it from there, and a label the file does not list gets the config's
// plain "address". The peer keeps a package's build output, so a label keeps
// the address it had when it was installed.
const AddressesKey = "addresses_file"

// addressForLabel returns config with "address" set to the package label's
// entry in the AddressesKey file, when the config names one and it lists the
// label.
func addressForLabel(metadataDir string, config map[string]string) (map[string]string, error) {
	path := config[AddressesKey]
	if path == "" {
		return config, nil
	}
	b, err := os.ReadFile(filepath.Join(metadataDir, "metadata.json"))
	if err != nil {
		return nil, err
	}
	var md struct {
		Label string `json:"label"`
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("metadata.json: %w", err)
	}
	b, err = os.ReadFile(path)
	if os.IsNotExist(err) {
		return config, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", AddressesKey, err)
	}
	var byLabel map[string]string
	if err := json.Unmarshal(b, &byLabel); err != nil {
		return nil, fmt.Errorf("%s %s must be a JSON object of label to host:port: %w", AddressesKey, path, err)
	}
	addr, ok := byLabel[md.Label]
	if !ok {
		return config, nil
	}
	out := maps.Clone(config)
	out["address"] = addr
	return out, nil
}

// ReadAddresses reads an AddressesKey file; a missing file is empty.
func ReadAddresses(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteAddresses writes an AddressesKey file (atomically: the peer's
// builder may read it at any install).
func WriteAddresses(path string, byLabel map[string]string) error {
	b, err := json.MarshalIndent(byLabel, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
