package fabric

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// TxRecord is what the ledger says about a transaction ID.
type TxRecord struct {
	TxID        string
	Found       bool
	Valid       bool
	Code        string // TxValidationCode name
	BlockNumber uint64
	Result      []byte // the chaincode's response payload, for a transaction that was found
	// CreatorMSPID is the organisation that signed the transaction, and
	// Submitter the name of the client's member whose certificate signed
	// it ("" when it is none of them).
	CreatorMSPID string
	Submitter    string
}

// Lookup asks the ledger (the query system chaincode) about a transaction:
// whether it committed, in which block, and what the chaincode returned. It
// is how the gateway recovers the outcome of a transaction it submitted
// before a restart: the ledger, not the gateway, is the source of truth.
func (c *Client) Lookup(ctx context.Context, identity, txID string) (TxRecord, error) {
	m, err := c.member(identity)
	if err != nil {
		return TxRecord{}, err
	}
	rec := TxRecord{TxID: txID}
	raw, err := c.queryLedger(ctx, m, "GetTransactionByID", txID)
	if err != nil {
		return rec, fmt.Errorf("look up transaction %s: %w", txID, err)
	}
	if raw == nil {
		return rec, nil
	}
	var pt peer.ProcessedTransaction
	if err := proto.Unmarshal(raw, &pt); err != nil {
		return rec, fmt.Errorf("decode transaction %s: %w", txID, err)
	}
	rec.Found = true
	rec.Code = peer.TxValidationCode(pt.GetValidationCode()).String()
	rec.Valid = pt.GetValidationCode() == int32(peer.TxValidationCode_VALID)
	if rec.Result, err = chaincodeResult(pt.GetTransactionEnvelope()); err != nil {
		return rec, fmt.Errorf("decode transaction %s: %w", txID, err)
	}
	creator, err := creatorOf(pt.GetTransactionEnvelope())
	if err != nil {
		return rec, fmt.Errorf("decode the creator of transaction %s: %w", txID, err)
	}
	rec.CreatorMSPID = creator.GetMspid()
	rec.Submitter = c.memberWithCert(creator.GetMspid(), certDER(creator.GetIdBytes()))
	if raw, err = c.queryLedger(ctx, m, "GetBlockByTxID", txID); err == nil && raw == nil {
		err = errors.New("the peer knows the transaction but not its block")
	}
	if err != nil {
		return rec, fmt.Errorf("look up the block of transaction %s: %w", txID, err)
	}
	var block common.Block
	if err := proto.Unmarshal(raw, &block); err != nil {
		return rec, fmt.Errorf("decode block of transaction %s: %w", txID, err)
	}
	rec.BlockNumber = block.GetHeader().GetNumber()
	return rec, nil
}

// queryLedger evaluates a query system chaincode function on (channel,
// txID) at the member's peers, with the failover and metrics of any query.
// A transaction the ledger does not know is (nil, nil).
func (c *Client) queryLedger(ctx context.Context, m *member, fn, txID string) ([]byte, error) {
	began := time.Now()
	var raw []byte
	err := c.each(ctx, m, func(p *peerGateway) error {
		cctx, cancel := context.WithTimeout(ctx, c.opts.EvaluateTimeout)
		defer cancel()
		var err error
		raw, err = p.qscc.EvaluateWithContext(cctx, fn, client.WithArguments(c.opts.Channel, txID))
		return err
	})
	switch {
	case notFound(err):
		c.metrics.observe(StageEvaluate, fn, began, nil)
		return nil, nil
	case err != nil:
		err = classify(StageEvaluate, m.MSPID, "", err)
	}
	c.metrics.observe(StageEvaluate, fn, began, err)
	return raw, err
}

func notFound(err error) bool {
	if err == nil {
		return false
	}
	// qscc answers an unknown ID with an error whose text is its only signal.
	s := err.Error()
	for _, d := range statusDetails(err) {
		s += " " + d
	}
	return strings.Contains(s, "no such transaction ID") || strings.Contains(s, "entry not found in index")
}

// chaincodeResult digs the chaincode's response payload out of a transaction
// envelope: envelope > payload > transaction > action > proposal response
// payload > chaincode action > response.
func chaincodeResult(env *common.Envelope) ([]byte, error) {
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return nil, err
	}
	var tx peer.Transaction
	if err := proto.Unmarshal(payload.GetData(), &tx); err != nil {
		return nil, err
	}
	if len(tx.GetActions()) == 0 {
		return nil, errors.New("transaction has no actions")
	}
	var cap peer.ChaincodeActionPayload
	if err := proto.Unmarshal(tx.GetActions()[0].GetPayload(), &cap); err != nil {
		return nil, err
	}
	var prp peer.ProposalResponsePayload
	if err := proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), &prp); err != nil {
		return nil, err
	}
	var action peer.ChaincodeAction
	if err := proto.Unmarshal(prp.GetExtension(), &action); err != nil {
		return nil, err
	}
	return action.GetResponse().GetPayload(), nil
}

// creatorOf reads who signed a transaction from its envelope's signature
// header.
func creatorOf(env *common.Envelope) (*msp.SerializedIdentity, error) {
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return nil, err
	}
	var sh common.SignatureHeader
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), &sh); err != nil {
		return nil, err
	}
	var id msp.SerializedIdentity
	if err := proto.Unmarshal(sh.GetCreator(), &id); err != nil {
		return nil, err
	}
	return &id, nil
}

// memberWithCert names the member whose enrolment certificate is der, in
// mspID; "" if none is.
func (c *Client) memberWithCert(mspID string, der []byte) string {
	if len(der) == 0 {
		return ""
	}
	members := *c.members.Load()
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	sort.Strings(names) // the same answer every time, should two members share a certificate
	for _, name := range names {
		if m := members[name]; m.MSPID == mspID && bytes.Equal(m.cert, der) {
			return name
		}
	}
	return ""
}

// certDER is the DER of a PEM certificate (as a creator's IdBytes carry it),
// so that two encodings of one certificate compare equal.
func certDER(pemBytes []byte) []byte {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil
	}
	return block.Bytes
}
