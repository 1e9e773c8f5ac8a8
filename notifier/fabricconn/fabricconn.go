// Package fabricconn opens the notifier's Fabric Gateway connection from
// connection material on disk: the peer's endpoint and TLS CA, and the
// exporter user's certificate and private key.
package fabricconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/shiptrace/shiptrace/network/connection"
)

// Config is the connection material.
type Config struct {
	PeerEndpoint    string // host:port of the peer's gateway service
	ServerName      string // TLS server name override (the peer's host name in its cert)
	TLSCACert       string // PEM file of the peer's TLS CA
	MSPID           string
	CertPath        string // PEM file, or a directory holding one (msp/signcerts)
	KeyPath         string // PEM file, or a directory holding one (msp/keystore)
	EvaluateTimeout time.Duration
	// ConnectionProfile, when set, is the network's connection.json (as
	// written by shipnet); peer, TLS and user material are taken from it
	// for MSPID and User, and the fields above are ignored.
	ConnectionProfile string
	User              string
	// TLSClientCert and TLSClientKey enable mutual TLS without a profile.
	TLSClientCert, TLSClientKey string
}

// Connect dials the peer and returns a gateway signed by the user. The
// gRPC connection reconnects by itself; closing the gateway does not close
// it, so both are returned.
func Connect(cfg Config) (*client.Gateway, *grpc.ClientConn, error) {
	evalTimeout := cfg.EvaluateTimeout
	if evalTimeout <= 0 {
		evalTimeout = 10 * time.Second
	}
	if cfg.ConnectionProfile != "" {
		p, err := connection.Load(cfg.ConnectionProfile)
		if err != nil {
			return nil, nil, err
		}
		user := cfg.User
		if user == "" {
			user = "Notifier" // role notifier: reads shipments and buyer contacts only
		}
		gw, conn, err := p.Connect(cfg.MSPID, user, client.WithEvaluateTimeout(evalTimeout))
		if err != nil {
			return nil, nil, fmt.Errorf("connect as %s/%s from %s: %w", cfg.MSPID, user, cfg.ConnectionProfile, err)
		}
		return gw, conn, nil
	}
	caPEM, err := os.ReadFile(cfg.TLSCACert)
	if err != nil {
		return nil, nil, fmt.Errorf("read peer TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("peer TLS CA %s holds no PEM certificate", cfg.TLSCACert)
	}
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSClientCert, cfg.TLSClientKey)
		if err != nil {
			return nil, nil, fmt.Errorf("load TLS client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	conn, err := grpc.NewClient(cfg.PeerEndpoint, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return nil, nil, fmt.Errorf("dial peer %s: %w", cfg.PeerEndpoint, err)
	}
	certPEM, err := readPEM(cfg.CertPath)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read user certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("parse user certificate: %w", err)
	}
	id, err := identity.NewX509Identity(cfg.MSPID, cert)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("user identity: %w", err)
	}
	keyPEM, err := readPEM(cfg.KeyPath)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read user key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("parse user key: %w", err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("user signer: %w", err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(evalTimeout))
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("connect gateway: %w", err)
	}
	return gw, conn, nil
}

// readPEM reads a PEM file, or the only file in a directory (Fabric's
// msp/signcerts and msp/keystore layout).
func readPEM(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() {
				return os.ReadFile(filepath.Join(path, e.Name()))
			}
		}
		return nil, fmt.Errorf("%s holds no file", path)
	}
	return os.ReadFile(path)
}
