// Package fabricconn opens the notifier's Fabric Gateway connection from
// connection material on disk: the peer's endpoint and TLS CA, and the
// exporter user's certificate and private key.
package fabricconn

import (
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
}

// Connect dials the peer and returns a gateway signed by the user. The
// gRPC connection reconnects by itself; closing the gateway does not close
// it, so both are returned.
func Connect(cfg Config) (*client.Gateway, *grpc.ClientConn, error) {
	caPEM, err := os.ReadFile(cfg.TLSCACert)
	if err != nil {
		return nil, nil, fmt.Errorf("read peer TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("peer TLS CA %s holds no PEM certificate", cfg.TLSCACert)
	}
	conn, err := grpc.NewClient(cfg.PeerEndpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, cfg.ServerName)))
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
	evalTimeout := cfg.EvaluateTimeout
	if evalTimeout <= 0 {
		evalTimeout = 10 * time.Second
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
