package contract

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// Notification anchors (see chaincode/README.md, "Notification anchors"):
//
//	anchor   composite "notifications~anchor" [batchId] -> shipment.NotificationAnchor JSON
//
// A member's notifier batches the status records of its WhatsApp messages
// into a Merkle tree and records the root here, so a status record it shows
// later ("delivered at 10:42, read at 10:47") can be checked by any member
// against the ledger. The key is the batch ID alone: a notifier makes its
// batch IDs unique (its store's random ID and a sequence), and a read needs
// nothing but the ID a proof names.
const anchorObject = "notifications~anchor"

// AnchorNotifications records the root of a batch of notification status
// records ({"batchId","root","leafCount","firstAt","lastAt"}) for the
// caller's organisation, at the transaction's time. It is idempotent: a
// retry of a batch already recorded with the same root, count and times by
// the same organisation writes nothing and emits nothing, and returns the
// record as first written (with the transaction that wrote it). The same
// batch ID with anything else is a CONFLICT. The caller's organisation must
// be a member of the consortium.
func (c *Contract) AnchorNotifications(ctx contractapi.TransactionContextInterface, anchorJSON string) (string, error) {
	t, err := c.begin(ctx, shipment.OpAnchorNotifications)
	if err != nil {
		return "", err
	}
	n, err := shipment.DecodeNewNotificationAnchor([]byte(anchorJSON))
	if err != nil {
		return "", err
	}
	// A batch cannot hold records from after its own anchoring: the
	// transaction time (which every endorser checked against its clock)
	// bounds every record's time from above.
	if n.LastAt.After(t.at.Add(c.tolerance)) {
		return "", shipment.Errorf(shipment.Invalid, "lastAt: %s is after this transaction's time %s",
			n.LastAt.UTC().Format(time.RFC3339), t.at.Format(time.RFC3339))
	}
	members, err := t.members()
	if err != nil {
		return "", err
	}
	if members == nil {
		return "", shipment.Errorf(shipment.Conflict, "the consortium's members are not recorded on the ledger yet")
	}
	if _, ok := members.Find(t.caller.MSPID); !ok {
		return "", shipment.Errorf(shipment.Forbidden, "%s: %s is not a member of the consortium", shipment.OpAnchorNotifications, t.caller.MSPID)
	}
	key, err := t.stub.CreateCompositeKey(anchorObject, []string{n.BatchID})
	if err != nil {
		return "", fmt.Errorf("anchor key for %s: %w", n.BatchID, err)
	}
	old, err := t.anchor(key, n.BatchID)
	if err != nil {
		return "", err
	}
	if old != nil {
		if !old.Same(t.caller.MSPID, n) {
			return "", shipment.Errorf(shipment.Conflict, "batch %s is already anchored with another root, count or times (by %s in %s)",
				n.BatchID, old.MSPID, old.TxID)
		}
		return encodeAnchor(*old)
	}
	a := n.Anchor(t.caller.MSPID, t.at, t.stub.GetTxID())
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode anchor %s: %w", a.BatchID, err)
	}
	if err := t.stub.PutState(key, b); err != nil {
		return "", fmt.Errorf("write anchor %s: %w", a.BatchID, err)
	}
	if err := t.emit(shipment.EventNotificationsAnchored, a); err != nil {
		return "", err
	}
	return string(b), nil
}

// NotificationAnchor returns the anchor of a batch, for a verifier; any
// member may read any member's anchors (they hold no personal data).
func (c *Contract) NotificationAnchor(ctx contractapi.TransactionContextInterface, batchID string) (string, error) {
	t, err := c.begin(ctx, shipment.OpReadAnchor)
	if err != nil {
		return "", err
	}
	if err := shipment.ValidateBatchID(batchID); err != nil {
		return "", err
	}
	key, err := t.stub.CreateCompositeKey(anchorObject, []string{batchID})
	if err != nil {
		return "", fmt.Errorf("anchor key for %s: %w", batchID, err)
	}
	a, err := t.anchor(key, batchID)
	if err != nil {
		return "", err
	}
	if a == nil {
		return "", shipment.Errorf(shipment.NotFound, "no notification batch %s is anchored", batchID)
	}
	return encodeAnchor(*a)
}

func (t *txn) anchor(key, batchID string) (*shipment.NotificationAnchor, error) {
	b, err := t.stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("read anchor %s: %w", batchID, err)
	}
	if b == nil {
		return nil, nil
	}
	var a shipment.NotificationAnchor
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode anchor %s: %w", batchID, err)
	}
	return &a, nil
}

func encodeAnchor(a shipment.NotificationAnchor) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode anchor %s: %w", a.BatchID, err)
	}
	return string(b), nil
}
