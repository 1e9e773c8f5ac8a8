package fabric

import (
	"fmt"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
)

// Connect opens a bare fabric-gateway connection to a peer as a user, for
// callers that need fabric-gateway's own API (tests that sign by hand or
// stream blocks). Services use Client, which adds failover, retries and the
// classification of errors. opts override the defaults (the timeouts of
// Options). Close the gateway, then the gRPC connection.
func Connect(mspID string, peer Peer, user User, opts ...client.ConnectOption) (*client.Gateway, *grpc.ClientConn, error) {
	id, sign, err := Identity(mspID, user)
	if err != nil {
		return nil, nil, err
	}
	tlsHash, err := tlsHashOf(user)
	if err != nil {
		return nil, nil, err
	}
	conn, err := Dial(peer, user)
	if err != nil {
		return nil, nil, err
	}
	var o Options
	o.defaults()
	gw, err := connectGateway(id, sign, conn, tlsHash, o, opts...)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("connect gateway at %s: %w", peer.Endpoint, err)
	}
	return gw, conn, nil
}

// Connect opens a fabric-gateway connection to the organisation's first peer
// as the named user of the profile.
func (p *Profile) Connect(mspID, userName string, opts ...client.ConnectOption) (*client.Gateway, *grpc.ClientConn, error) {
	org, err := p.Org(mspID)
	if err != nil {
		return nil, nil, err
	}
	user, err := org.User(userName)
	if err != nil {
		return nil, nil, err
	}
	gw, conn, err := Connect(mspID, org.Peers[0], user, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect as %s/%s: %w", mspID, userName, err)
	}
	return gw, conn, nil
}

// connectGateway connects fabric-gateway over conn with what every gateway
// of the adapter uses: the signer, the hash of the TLS client certificate
// conn authenticated with (nil without mutual TLS) and the timeouts of o.
// The WithContext calls the Client makes ignore those timeouts; they are a
// backstop for any call that does not pass a context.
func connectGateway(id identity.Identity, sign identity.Sign, conn *grpc.ClientConn, tlsHash []byte, o Options, extra ...client.ConnectOption) (*client.Gateway, error) {
	opts := []client.ConnectOption{
		client.WithSign(sign),
		client.WithClientConnection(conn),
		client.WithEvaluateTimeout(o.EvaluateTimeout),
		client.WithEndorseTimeout(o.EndorseTimeout),
		client.WithSubmitTimeout(o.SubmitTimeout),
		client.WithCommitStatusTimeout(o.CommitTimeout),
	}
	if tlsHash != nil {
		opts = append(opts, client.WithTLSClientCertificateHash(tlsHash))
	}
	return client.Connect(id, append(opts, extra...)...)
}

// tlsHashOf is TLSCertificateHash for a user with a TLS client certificate,
// and nil for one without (one-way TLS).
func tlsHashOf(user User) ([]byte, error) {
	if user.TLSCert == "" {
		return nil, nil
	}
	return TLSCertificateHash(user)
}
