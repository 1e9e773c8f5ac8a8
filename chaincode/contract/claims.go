package contract

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// claimObject keys a shipment's claims: composite "shipment~claim"
// [shipment id, claim id] -> Claim JSON. They live beside the record, not
// in it, so a claim neither rewrites the record (and its history) nor
// conflicts with the writes of the parties moving the goods.
const claimObject = "shipment~claim"

// OpenClaim records a buyer's claim on a shipment for the shipment's
// exporter, which talks to the buyer (its notifier): claim ID, category
// and the SHA-256 digests of the buyer's words and photos, never the words,
// photos, number or name (shipment.NewClaim refuses any other field). The
// time is the transaction's. The claim ID is the submitter's, so a retry
// after a crash names the same claim: the same claim again writes nothing,
// emits nothing and returns the first transaction's receipt with duplicate
// set; the same ID with other content is a CONFLICT. The claim key gets the
// shipment's key-level policy, so no organisation rewrites it alone.
func (c *Contract) OpenClaim(ctx contractapi.TransactionContextInterface, id string, claimJSON string) (string, error) {
	t, err := c.begin(ctx, shipment.OpOpenClaim)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpOpenClaim); err != nil {
		return "", err
	}
	n, err := shipment.DecodeNewClaim([]byte(claimJSON))
	if err != nil {
		return "", err
	}
	existing, err := t.claims(id)
	if err != nil {
		return "", err
	}
	cl, dup, err := s.OpenClaim(t.caller, t.at, t.stub.GetTxID(), n, existing)
	if err != nil {
		return "", err
	}
	r := t.receipt(s)
	r.ClaimID = cl.ID
	if dup {
		r.TxID, r.Duplicate = cl.TxID, true
		return r.encode()
	}
	key, err := t.stub.CreateCompositeKey(claimObject, []string{id, cl.ID})
	if err != nil {
		return "", fmt.Errorf("claim key %s of %s: %w", cl.ID, id, err)
	}
	b, err := json.Marshal(cl)
	if err != nil {
		return "", fmt.Errorf("encode claim %s of %s: %w", cl.ID, id, err)
	}
	if err := t.stub.PutState(key, b); err != nil {
		return "", fmt.Errorf("write claim %s of %s: %w", cl.ID, id, err)
	}
	if err := t.setEndorsers(key, s); err != nil {
		return "", err
	}
	ev := shipment.NewEvent(shipment.EventClaimOpened, s, t.at)
	ev.By = t.caller.MSPID
	ev.ColdChain, ev.Settlement, ev.Reason = nil, nil, ""
	ev.Claim = &cl
	if err := t.emit(ev.Type, ev); err != nil {
		return "", err
	}
	return r.encode()
}

// Claims returns a shipment's claims, in claim ID order, to any member: a
// claim holds digests only, and every party to a dispute must see it.
func (c *Contract) Claims(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	t, err := c.begin(ctx, shipment.OpClaims)
	if err != nil {
		return "", err
	}
	s, err := t.loadRecord(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpClaims); err != nil {
		return "", err
	}
	claims, err := t.claims(id)
	if err != nil {
		return "", err
	}
	if claims == nil {
		claims = []shipment.Claim{}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims of %s: %w", id, err)
	}
	return string(b), nil
}

// claims reads the claims of shipment id; shipment.MaxClaims bounds them.
func (t *txn) claims(id string) ([]shipment.Claim, error) {
	it, err := t.stub.GetStateByPartialCompositeKey(claimObject, []string{id})
	if err != nil {
		return nil, fmt.Errorf("read claims of %s: %w", id, err)
	}
	defer it.Close()
	var out []shipment.Claim
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read claims of %s: %w", id, err)
		}
		var cl shipment.Claim
		if err := json.Unmarshal(kv.GetValue(), &cl); err != nil {
			return nil, fmt.Errorf("decode claim of %s: %w", id, err)
		}
		out = append(out, cl)
	}
	return out, nil
}
