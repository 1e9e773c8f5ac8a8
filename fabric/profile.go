package fabric

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Profile is the client side of the network's connection material, how to
// reach the channel: for each organisation, its peers (endpoint, TLS root)
// and users (signing certificate and key, TLS client certificate for mutual
// TLS). `shipnet up` writes it as one JSON file (connection.json); the
// gateway, the notifier and the tests read it. A member running its own peer
// writes the same file by hand for its own organisation.
type Profile struct {
	Channel   string         `json:"channel"`
	Chaincode string         `json:"chaincode"`
	Orgs      map[string]Org `json:"orgs"` // by MSP ID
}

// Org is one member organisation.
type Org struct {
	MSPID string          `json:"mspId"`
	Peers []Peer          `json:"peers"`
	Users map[string]User `json:"users"` // by name, e.g. "User1", "Admin"
}

// Peer is a node's gRPC endpoint and the root certificate of its TLS CA: a
// peer's in the profile, and an orderer's or a CA's for raw access (Dial,
// TLSConfig).
type Peer struct {
	Name       string `json:"name"`
	Endpoint   string `json:"endpoint"`   // host:port
	TLSRootCA  string `json:"tlsRootCA"`  // PEM file
	ServerName string `json:"serverName"` // expected name in the peer's TLS certificate
}

// User is a signing identity and its TLS client certificate.
type User struct {
	Cert    string `json:"cert"`    // PEM file: enrolment certificate
	Key     string `json:"key"`     // PEM file: private key
	TLSCert string `json:"tlsCert"` // PEM file: TLS client certificate (mutual TLS)
	TLSKey  string `json:"tlsKey"`  // PEM file
}

// Load reads a profile and checks that the files it names exist.
func Load(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read connection profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("connection profile %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("connection profile %s: %w", path, err)
	}
	return &p, nil
}

// Validate reports missing fields and files.
func (p *Profile) Validate() error {
	var errs []error
	if p.Channel == "" || p.Chaincode == "" {
		errs = append(errs, errors.New("channel and chaincode are required"))
	}
	for _, msp := range p.MSPIDs() {
		org := p.Orgs[msp]
		if len(org.Peers) == 0 {
			errs = append(errs, fmt.Errorf("org %s: no peers", msp))
		}
		for _, peer := range org.Peers {
			if peer.Endpoint == "" {
				errs = append(errs, fmt.Errorf("org %s peer %s: endpoint is required", msp, peer.Name))
			}
			errs = append(errs, fileExists(peer.TLSRootCA, "org "+msp+" peer "+peer.Name+" tlsRootCA"))
		}
		for name, u := range org.Users {
			for field, f := range map[string]string{"cert": u.Cert, "key": u.Key, "tlsCert": u.TLSCert, "tlsKey": u.TLSKey} {
				errs = append(errs, fileExists(f, "org "+msp+" user "+name+" "+field))
			}
		}
	}
	return errors.Join(errs...)
}

// Save writes the profile as indented JSON, atomically.
func (p *Profile) Save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode connection profile: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save connection profile: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save connection profile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save connection profile: %w", err)
	}
	return nil
}

// MSPIDs lists the organisations in a stable order.
func (p *Profile) MSPIDs() []string {
	ids := make([]string, 0, len(p.Orgs))
	for id := range p.Orgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Org returns an organisation by MSP ID.
func (p *Profile) Org(mspID string) (Org, error) {
	org, ok := p.Orgs[mspID]
	if !ok {
		return Org{}, fmt.Errorf("connection profile has no organisation %q (have %v)", mspID, p.MSPIDs())
	}
	return org, nil
}

// User returns a user of an organisation.
func (o Org) User(name string) (User, error) {
	u, ok := o.Users[name]
	if !ok {
		return User{}, fmt.Errorf("organisation %s has no user %q in the connection profile", o.MSPID, name)
	}
	return u, nil
}

func fileExists(path, what string) error {
	if path == "" {
		return fmt.Errorf("%s: path is required", what)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
