package contract

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// The member registry (see chaincode/README.md, "Members"):
//
//	registry   "consortium~members"         -> shipment.Consortium JSON; key policy: a majority of the members' peers
//	approval   "consortium~approval~<MSP>"  -> shipment.Approval JSON;   key policy: that member's peer
//
// Changing the registry takes two kinds of transaction, as Fabric's own
// chaincode lifecycle does: each member's admin approves an exact member set
// (its digest and sequence) for its own organisation, then any voter commits
// it once enough approvals agree. The key policy on the registry makes the
// commit itself need a majority of the current members' peers, each of which
// checks the approvals.
const (
	membersKey     = "consortium~members"
	approvalPrefix = "consortium~approval~"
)

// Event types of the registry.
const (
	EventMembersApproved  shipment.EventType = "consortium.members_approved"
	EventMembersCommitted shipment.EventType = "consortium.members_committed"
)

// membersEvent is the payload of a registry event.
type membersEvent struct {
	Version  int                `json:"version"`
	Type     shipment.EventType `json:"type"`
	Sequence int64              `json:"sequence"`
	Digest   string             `json:"digest"`
	By       string             `json:"by"`
	Members  []string           `json:"members,omitempty"`
}

// members reads the committed registry; nil when none is committed yet.
func (t *txn) members() (*shipment.Consortium, error) {
	b, err := t.stub.GetState(membersKey)
	if err != nil {
		return nil, fmt.Errorf("read consortium members: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	var c shipment.Consortium
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode consortium members: %w", err)
	}
	return &c, nil
}

func (t *txn) approvals(ids []string) (map[string]shipment.Approval, error) {
	out := map[string]shipment.Approval{}
	for _, id := range ids {
		b, err := t.stub.GetState(approvalPrefix + id)
		if err != nil {
			return nil, fmt.Errorf("read approval of %s: %w", id, err)
		}
		if b == nil {
			continue
		}
		var a shipment.Approval
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("decode approval of %s: %w", id, err)
		}
		out[id] = a
	}
	return out, nil
}

func (t *txn) emitMembers(ev membersEvent) error {
	ev.Version = shipment.EventVersion
	return t.emit(ev.Type, ev)
}

// vote starts a registry transaction: the caller, the proposed member set
// and the committed registry (nil before the first).
func (c *Contract) vote(ctx contractapi.TransactionContextInterface, op shipment.Operation, membersJSON string) (*txn, shipment.Members, *shipment.Consortium, error) {
	t, err := c.begin(ctx, op)
	if err != nil {
		return nil, shipment.Members{}, nil, err
	}
	next, err := shipment.DecodeMembers([]byte(membersJSON))
	if err != nil {
		return nil, shipment.Members{}, nil, err
	}
	cur, err := t.members()
	if err != nil {
		return nil, shipment.Members{}, nil, err
	}
	return t, next, cur, nil
}

// Members returns the committed member registry.
func (c *Contract) Members(ctx contractapi.TransactionContextInterface) (string, error) {
	t, err := c.begin(ctx, shipment.OpReadMembers)
	if err != nil {
		return "", err
	}
	m, err := t.members()
	if err != nil {
		return "", err
	}
	if m == nil {
		return "", shipment.Errorf(shipment.NotFound, "the consortium's members are not recorded yet")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode consortium members: %w", err)
	}
	return string(b), nil
}

// ApproveMembers records the caller's organisation's approval of a member
// set ({"sequence":n,"members":[{"mspId","name","capacities"}]}). Only an
// admin of a voting organisation may approve, and only the next sequence.
// The approval key is then guarded by that organisation's peer alone: its
// vote is its own to change.
func (c *Contract) ApproveMembers(ctx contractapi.TransactionContextInterface, membersJSON string) (string, error) {
	t, next, cur, err := c.vote(ctx, shipment.OpApproveMembers, membersJSON)
	if err != nil {
		return "", err
	}
	a, err := cur.Approve(t.caller, t.at, next)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode approval: %w", err)
	}
	key := approvalPrefix + t.caller.MSPID
	if err := t.stub.PutState(key, b); err != nil {
		return "", fmt.Errorf("write approval of %s: %w", t.caller.MSPID, err)
	}
	policy, err := peersPolicy(1, []string{t.caller.MSPID})
	if err != nil {
		return "", err
	}
	if err := t.stub.SetStateValidationParameter(key, policy); err != nil {
		return "", fmt.Errorf("set key endorsement policy of %s: %w", key, err)
	}
	if err := t.emitMembers(membersEvent{Type: EventMembersApproved, Sequence: a.Sequence, Digest: a.Digest, By: t.caller.MSPID}); err != nil {
		return "", err
	}
	return string(b), nil
}

// CommitMembers makes a member set the registry once enough voters approved
// exactly it: a majority of the current members, or, for the first set,
// every organisation it lists. The registry key then needs a majority of
// the new members' peers for any later change.
func (c *Contract) CommitMembers(ctx contractapi.TransactionContextInterface, membersJSON string) (string, error) {
	t, next, cur, err := c.vote(ctx, shipment.OpCommitMembers, membersJSON)
	if err != nil {
		return "", err
	}
	voters, _ := cur.Voters(next)
	approvals, err := t.approvals(voters)
	if err != nil {
		return "", err
	}
	reg, err := cur.Commit(t.caller, t.at, next, approvals)
	if err != nil {
		return "", err
	}
	reg.UpdatedTx = t.stub.GetTxID()
	b, err := json.Marshal(reg)
	if err != nil {
		return "", fmt.Errorf("encode consortium members: %w", err)
	}
	if err := t.stub.PutState(membersKey, b); err != nil {
		return "", fmt.Errorf("write consortium members: %w", err)
	}
	policy, err := peersPolicy(reg.Majority(), reg.MSPIDs())
	if err != nil {
		return "", err
	}
	if err := t.stub.SetStateValidationParameter(membersKey, policy); err != nil {
		return "", fmt.Errorf("set key endorsement policy of the registry: %w", err)
	}
	if err := t.emitMembers(membersEvent{Type: EventMembersCommitted, Sequence: reg.Sequence, Digest: next.Digest(),
		By: t.caller.MSPID, Members: reg.MSPIDs()}); err != nil {
		return "", err
	}
	return string(b), nil
}
