package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

// FabricClient is the part of the Fabric adapter the conversation uses.
type FabricClient interface {
	Evaluate(ctx context.Context, req fabric.Request) ([]byte, error)
	Submit(ctx context.Context, req fabric.Request) (fabric.Committed, error)
}

// FabricLedger reads shipments and the member registry and records claims
// as the notifier's own identity (role notifier, the exporter's
// organisation).
type FabricLedger struct {
	Client   FabricClient
	Identity string

	mu      sync.Mutex
	members shipment.Members
	readAt  time.Time
}

// ReadShipment evaluates ReadShipment(id).
func (l *FabricLedger) ReadShipment(ctx context.Context, id string) (*shipment.Shipment, error) {
	raw, err := l.Client.Evaluate(ctx, fabric.Request{Identity: l.Identity, Tx: string(shipment.OpRead), Args: []string{id}})
	if err != nil {
		return nil, fmt.Errorf("evaluate ReadShipment(%s): %w", id, err)
	}
	var s shipment.Shipment
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode ReadShipment(%s): %w", id, err)
	}
	return &s, nil
}

// membersTTL is how long the member registry is kept: it changes by vote,
// rarely, and a stale display name in a reply is harmless.
const membersTTL = 5 * time.Minute

// MemberName is the display name of mspID in the member registry, or the
// MSP ID when the registry cannot be read or does not list it.
func (l *FabricLedger) MemberName(ctx context.Context, mspID string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.readAt) > membersTTL {
		raw, err := l.Client.Evaluate(ctx, fabric.Request{Identity: l.Identity, Tx: string(shipment.OpReadMembers)})
		var m shipment.Members
		if err == nil && json.Unmarshal(raw, &m) == nil {
			l.members, l.readAt = m, time.Now()
		}
	}
	if m, ok := l.members.Find(mspID); ok && m.Name != "" {
		return m.Name
	}
	return mspID
}

// OpenClaim submits OpenClaim and waits for its commit. The contract
// answers a claim it already holds with the first transaction's receipt,
// so a retry returns the transaction that recorded it.
func (l *FabricLedger) OpenClaim(ctx context.Context, id string, c shipment.NewClaim) (string, error) {
	arg, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	res, err := l.Client.Submit(ctx, fabric.Request{Identity: l.Identity, Tx: string(shipment.OpOpenClaim), Args: []string{id, string(arg)}})
	if err != nil {
		return "", fmt.Errorf("submit OpenClaim(%s, %s): %w", id, c.ID, err)
	}
	var r struct {
		TxID string `json:"txId"`
	}
	if err := json.Unmarshal(res.Result, &r); err != nil || r.TxID == "" {
		return res.TxID, nil
	}
	return r.TxID, nil
}

// Claims evaluates Claims(id): the claims the ledger holds for a shipment.
func (l *FabricLedger) Claims(ctx context.Context, id string) ([]shipment.Claim, error) {
	raw, err := l.Client.Evaluate(ctx, fabric.Request{Identity: l.Identity, Tx: string(shipment.OpClaims), Args: []string{id}})
	if err != nil {
		return nil, fmt.Errorf("evaluate Claims(%s): %w", id, err)
	}
	var out []shipment.Claim
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode Claims(%s): %w", id, err)
	}
	return out, nil
}
