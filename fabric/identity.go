package fabric

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hyperledger/fabric-gateway/pkg/identity"

	"github.com/shiptrace/shiptrace/shipment"
)

// Identity loads a user's signing identity for fabric-gateway: the
// enrolment certificate peers see as the creator, and a signer over its key.
func Identity(mspID string, user User) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(user.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate %s: %w", user.Cert, err)
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("identity from %s: %w", user.Cert, err)
	}
	keyPEM, err := os.ReadFile(user.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse private key %s: %w", user.Key, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("signer for %s: %w", user.Key, err)
	}
	return id, sign, nil
}

// MSPUser returns the files of a user enrolled into dir in the layout
// Fabric's tools write (cryptogen, fabric-ca-client, `shipnet identity
// issue`): the certificate in dir/msp/signcerts, the private key in
// dir/msp/keystore, and the TLS client pair dir/tls/client.crt and
// client.key. Callers name the identity's folder, never the files in it, so
// the layout is known in one place.
func MSPUser(dir string) (User, error) {
	cert, err := pemFile(filepath.Join(dir, "msp", "signcerts"))
	if err != nil {
		return User{}, fmt.Errorf("certificate of %s: %w", dir, err)
	}
	key, err := pemFile(filepath.Join(dir, "msp", "keystore"))
	if err != nil {
		return User{}, fmt.Errorf("private key of %s: %w", dir, err)
	}
	return User{
		Cert:    cert,
		Key:     key,
		TLSCert: filepath.Join(dir, "tls", "client.crt"),
		TLSKey:  filepath.Join(dir, "tls", "client.key"),
	}, nil
}

// pemFile resolves a PEM file given either as itself or as the folder that
// holds it (Fabric's msp/signcerts and msp/keystore hold one file each): the
// folder's first file.
func pemFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return path, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if !e.IsDir() {
			return filepath.Join(path, e.Name()), nil
		}
	}
	return "", fmt.Errorf("%s holds no file", path)
}

// attrsOID is the X.509 extension in which Fabric CA puts an enrolment
// certificate's attributes, as JSON {"attrs": {name: value}} (fabric
// common/attrmgr, which the chaincode's GetAttributeValue reads too).
var attrsOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Role reads the shiptrace.role attribute of a user's enrolment certificate:
// what the contract lets the identity do. A certificate without it (a
// cryptogen one) has role "", which the contract refuses everything.
func Role(user User) (string, error) {
	certPEM, err := os.ReadFile(user.Cert)
	if err != nil {
		return "", fmt.Errorf("read certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return "", fmt.Errorf("parse certificate %s: %w", user.Cert, err)
	}
	return roleOf(cert)
}

func roleOf(cert *x509.Certificate) (string, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(attrsOID) {
			continue
		}
		var attrs struct {
			Attrs map[string]string `json:"attrs"`
		}
		if err := json.Unmarshal(ext.Value, &attrs); err != nil {
			return "", fmt.Errorf("certificate attributes: %w", err)
		}
		return attrs.Attrs[shipment.RoleAttribute], nil
	}
	return "", nil
}
