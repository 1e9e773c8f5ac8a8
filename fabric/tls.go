package fabric

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TLSConfig builds the client TLS settings for a node: its TLS root, and
// the user's client certificate when the user has one (mutual TLS). It also
// serves callers that speak HTTPS to a Fabric CA.
func TLSConfig(node Peer, user User) (*tls.Config, error) {
	rootPEM, err := os.ReadFile(node.TLSRootCA)
	if err != nil {
		return nil, fmt.Errorf("%s TLS root: %w", node.Name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		return nil, fmt.Errorf("%s TLS root %s: no PEM certificate", node.Name, node.TLSRootCA)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: node.ServerName, MinVersion: tls.VersionTLS12}
	if user.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(user.TLSCert, user.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// MaxMessageBytes is the largest reply the client takes from a peer: the
// peers' and orderers' own gRPC limit (100 MiB, core.yaml and orderer.yaml),
// not gRPC's 4 MiB client default, which a shipment's EUDR plots (thousands
// of polygons, read back by the buyer) exceed.
const MaxMessageBytes = 100 << 20

// Dial opens a gRPC connection to a peer or an orderer over TLS, mutual when
// the user has a TLS client certificate. The connection is lazy: it connects
// on first use and reconnects by itself after a failure.
func Dial(node Peer, user User) (*grpc.ClientConn, error) {
	cfg, err := TLSConfig(node, user)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("dns:///"+node.Endpoint, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)))
	if err != nil {
		return nil, fmt.Errorf("dial %s at %s: %w", node.Name, node.Endpoint, err)
	}
	return conn, nil
}

// TLSCertificateHash is the SHA-256 of the user's TLS client certificate.
// Peers with mutual TLS serve block and event streams only to a client that
// names the TLS certificate it connected with
// (client.WithTLSClientCertificateHash).
func TLSCertificateHash(user User) ([]byte, error) {
	b, err := os.ReadFile(user.TLSCert)
	if err != nil {
		return nil, fmt.Errorf("TLS client certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("TLS client certificate %s: %w", user.TLSCert, err)
	}
	sum := sha256.Sum256(cert.Raw)
	return sum[:], nil
}
