// Package plan describes, without importing any Fabric SDK, what an
// organisation's CA should issue: the CA to talk to and the identities to
// register and enrol, with the folders their MSP and TLS material go to.
//
// It exists so the network tooling (which links fabric-gateway) can ask the
// identity command (which links fabric-sdk-go) for crypto material: the two
// SDKs register the same protobuf message names and cannot share a binary.
package plan

import (
	"encoding/json"
	"fmt"
	"os"
)

// CA is how to reach an organisation's Fabric CA server as its registrar.
type CA struct {
	Org        string `json:"org"` // organisation name, e.g. ExporterOrg
	MSPID      string `json:"mspId"`
	Domain     string `json:"domain"` // e.g. exporter.shiptrace
	URL        string `json:"url"`
	CAName     string `json:"caName"`
	TLSCAName  string `json:"tlsCaName"`
	Home       string `json:"home"`       // the CA server's home: ca-cert.pem, tlsca/ca-cert.pem
	SecretFile string `json:"secretFile"` // the registrar's secret
	StoreDir   string `json:"storeDir"`   // the client's user store and keys
}

// CARoot is the enrolment CA's root certificate, which also signs the
// server's listener certificate.
func (c CA) CARoot() string { return c.Home + "/ca-cert.pem" }

// TLSCARoot is the TLS CA's root certificate.
func (c CA) TLSCARoot() string { return c.Home + "/tlsca/ca-cert.pem" }

// Member is one identity to register and enrol.
type Member struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`           // client, admin, peer or orderer
	Role     string   `json:"role,omitempty"` // shiptrace.role attribute; required for client and admin members with an MSP
	MSPDir   string   `json:"mspDir,omitempty"`
	CertFile string   `json:"certFile,omitempty"` // name under signcerts/
	TLSDir   string   `json:"tlsDir,omitempty"`
	Server   bool     `json:"server,omitempty"` // TLS files named server.* (else client.*)
	Hosts    []string `json:"hosts,omitempty"`  // TLS certificate SANs
}

// Plan is everything one organisation's CA issues at `up`.
type Plan struct {
	CA      CA       `json:"ca"`
	OrgDir  string   `json:"orgDir"` // organisation folder: msp/, ca/, tlsca/
	Members []Member `json:"members"`
}

// Load reads a plan file.
func Load(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	return &p, nil
}

// Save writes a plan file.
func (p *Plan) Save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
