package identity

import (
	"fmt"
	"os"
	"path/filepath"
)

// The folders written here have the layout Fabric's local MSP and TLS
// settings expect (the same as cryptogen's), so nodes, admins and the gateway
// read CA-issued identities exactly as they read generated ones.

// nodeOUs makes the certificate's OU (set by the CA from the identity type)
// decide whether an identity is a client, admin, peer or orderer.
const nodeOUs = `NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/%[1]s
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/%[1]s
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/%[1]s
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/%[1]s
    OrganizationalUnitIdentifier: orderer
`

// Roots are an organisation's two root certificates and their file names.
type Roots struct {
	CACert       []byte // enrolment CA root (PEM)
	CAFile       string // e.g. ca.exporter.shiptrace-cert.pem
	TLSCACert    []byte // TLS CA root (PEM)
	TLSCAFile    string // e.g. tlsca.exporter.shiptrace-cert.pem
	Intermediate []byte // optional chain, unused locally
}

// WriteOrgMSP writes the organisation's MSP definition (what configtxgen puts
// in the channel configuration): roots and NodeOU rules, no signer.
func WriteOrgMSP(dir string, r Roots) error {
	files := map[string][]byte{
		filepath.Join("cacerts", r.CAFile):       r.CACert,
		filepath.Join("tlscacerts", r.TLSCAFile): r.TLSCACert,
		"config.yaml":                            fmt.Appendf(nil, nodeOUs, r.CAFile),
	}
	return writeAll(dir, files)
}

// WriteMSP writes a local MSP for one identity: its certificate under
// signcerts/certFile, its key as keystore/priv_sk, and the org's roots.
func WriteMSP(dir, certFile string, e *Enrolment, r Roots) error {
	if err := WriteOrgMSP(dir, r); err != nil {
		return err
	}
	return writeAll(dir, map[string][]byte{
		filepath.Join("signcerts", certFile): e.Cert,
		filepath.Join("keystore", "priv_sk"): e.Key,
	})
}

// WriteTLS writes a TLS identity: server.crt/server.key for a node, or
// client.crt/client.key for a user, with ca.crt the org's TLS root.
func WriteTLS(dir string, e *Enrolment, tlsRoot []byte, server bool) error {
	name := "client"
	if server {
		name = "server"
	}
	return writeAll(dir, map[string][]byte{
		name + ".crt": e.Cert,
		name + ".key": e.Key,
		"ca.crt":      tlsRoot,
	})
}

func writeAll(dir string, files map[string][]byte) error {
	for name, b := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if filepath.Ext(name) == ".key" || filepath.Base(name) == "priv_sk" {
			mode = 0o600
		}
		if err := os.WriteFile(path, b, mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
