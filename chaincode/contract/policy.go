package contract

import (
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// peersPolicy is a key-level endorsement policy that needs the endorsement
// of the peers of n of the organisations msps.
//
// Why peers and not members: a "member" principal is satisfied by any
// certificate of the organisation, and every client may broadcast to the
// orderer, so a client (an auditor's desk, a logger) could assemble a
// transaction with its own signature in place of an endorsement and
// rewrite the key. Only a peer runs the contract before it signs. (The
// shim's statebased package builds only AND policies; the member registry
// needs n-of-m, so the envelope is built here from Fabric's protobufs.)
func peersPolicy(n int, msps []string) ([]byte, error) {
	ids := slices.Clone(msps)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if n < 1 || n > len(ids) {
		return nil, fmt.Errorf("endorsement policy: %d of %d organisations", n, len(ids))
	}
	env := &common.SignaturePolicyEnvelope{
		Rule: &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{NOutOf: &common.SignaturePolicy_NOutOf{N: int32(n)}}},
	}
	rules := &env.Rule.GetNOutOf().Rules
	for i, id := range ids {
		principal, err := proto.Marshal(&msp.MSPRole{MspIdentifier: id, Role: msp.MSPRole_PEER})
		if err != nil {
			return nil, fmt.Errorf("endorsement policy principal %s: %w", id, err)
		}
		env.Identities = append(env.Identities, &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: principal})
		*rules = append(*rules, &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: int32(i)}})
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode endorsement policy: %w", err)
	}
	return b, nil
}
