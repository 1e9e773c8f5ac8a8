// Package connection is the client side of the network's connection material:
// for each organisation, its peers (endpoint, TLS root) and users (signing
// certificate and key, TLS client certificate for mutual TLS). `up` writes it as
// one JSON file; the gateway, the notifier and the tests read it and connect
// with fabric-gateway. A member running its own peer writes the same file by
// hand for its own organisation.
package connection

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Profile describes how to reach the channel.
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

// Peer is a peer's gRPC endpoint and the root certificate of its TLS CA.
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
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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

// Dial opens a gRPC connection to a peer with mutual TLS. The connection is
// lazy: it connects on first use and reconnects by itself after a failure.
func Dial(peer Peer, user User) (*grpc.ClientConn, error) {
	creds, err := TLSConfig(peer, user)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("dns:///"+peer.Endpoint, grpc.WithTransportCredentials(credentials.NewTLS(creds)))
	if err != nil {
		return nil, fmt.Errorf("dial peer %s at %s: %w", peer.Name, peer.Endpoint, err)
	}
	return conn, nil
}

// TLSConfig builds the client TLS settings for a peer: its TLS root, and the
// user's client certificate when the profile has one.
func TLSConfig(peer Peer, user User) (*tls.Config, error) {
	rootPEM, err := os.ReadFile(peer.TLSRootCA)
	if err != nil {
		return nil, fmt.Errorf("peer %s TLS root: %w", peer.Name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		return nil, fmt.Errorf("peer %s TLS root %s: no PEM certificate", peer.Name, peer.TLSRootCA)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: peer.ServerName, MinVersion: tls.VersionTLS12}
	if user.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(user.TLSCert, user.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Identity loads a user's signing identity for fabric-gateway.
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
		return nil, nil, err
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
		return nil, nil, err
	}
	return id, sign, nil
}

// Connect opens a fabric-gateway connection to the organisation's first peer
// as the named user. Close the gateway, then the gRPC connection.
func (p *Profile) Connect(mspID, userName string, opts ...client.ConnectOption) (*client.Gateway, *grpc.ClientConn, error) {
	org, err := p.Org(mspID)
	if err != nil {
		return nil, nil, err
	}
	user, err := org.User(userName)
	if err != nil {
		return nil, nil, err
	}
	id, sign, err := Identity(mspID, user)
	if err != nil {
		return nil, nil, fmt.Errorf("identity %s/%s: %w", mspID, userName, err)
	}
	conn, err := Dial(org.Peers[0], user)
	if err != nil {
		return nil, nil, err
	}
	tlsCert, err := os.ReadFile(user.TLSCert)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("TLS client certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(tlsCert)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("TLS client certificate %s: %w", user.TLSCert, err)
	}
	defaults := []client.ConnectOption{
		// Peers with mutual TLS serve block and event streams only to a client
		// that names the TLS certificate it connected with.
		client.WithTLSClientCertificateHash(sha256Sum(cert.Raw)),
		client.WithSign(sign),
		client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10 * time.Second),
		client.WithEndorseTimeout(30 * time.Second),
		client.WithSubmitTimeout(10 * time.Second),
		client.WithCommitStatusTimeout(time.Minute),
	}
	gw, err := client.Connect(id, append(defaults, opts...)...)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("connect gateway as %s/%s: %w", mspID, userName, err)
	}
	return gw, conn, nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
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
