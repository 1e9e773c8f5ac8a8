package fabric

import (
	"fmt"
)

// Member is one Fabric identity a Client signs with: a name that callers
// (API keys, the notifier) refer to, the organisation's MSP ID, the user's
// certificate, key and TLS client certificate, and the organisation's peers
// in order of preference.
type Member struct {
	Name  string
	MSPID string
	User  User
	Peers []Peer
}

// Member returns a user of the profile as a member called name, with every
// peer the profile lists for the organisation.
func (p *Profile) Member(name, mspID, userName string) (Member, error) {
	org, err := p.Org(mspID)
	if err != nil {
		return Member{}, err
	}
	user, err := org.User(userName)
	if err != nil {
		return Member{}, err
	}
	return Member{Name: name, MSPID: mspID, User: user, Peers: org.Peers}, nil
}

// FileMember is a member set up file by file rather than from a connection
// profile (the notifier's fabric.* settings): one peer, and the user's
// certificate and key, each a PEM file or the MSP folder that holds it
// (msp/signcerts, msp/keystore). The TLS client pair is optional: without it
// TLS is one-way.
func FileMember(name, mspID string, peer Peer, user User) (Member, error) {
	var err error
	if user.Cert, err = pemFile(user.Cert); err != nil {
		return Member{}, fmt.Errorf("member %s certificate: %w", name, err)
	}
	if user.Key, err = pemFile(user.Key); err != nil {
		return Member{}, fmt.Errorf("member %s private key: %w", name, err)
	}
	if peer.Name == "" {
		peer.Name = peer.Endpoint
	}
	return Member{Name: name, MSPID: mspID, User: user, Peers: []Peer{peer}}, nil
}
