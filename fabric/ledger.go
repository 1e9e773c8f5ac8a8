package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
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
	began := time.Now()
	var raw []byte
	err = c.each(ctx, m, func(p *peerGateway) error {
		cctx, cancel := context.WithTimeout(ctx, c.opts.EvaluateTimeout)
		defer cancel()
		var err error
		raw, err = p.qscc.EvaluateWithContext(cctx, "GetTransactionByID", client.WithArguments(c.opts.Channel, txID))
		return err
	})
	if err != nil {
		if notFound(err) {
			c.metrics.observe(StageEvaluate, "GetTransactionByID", began, nil)
			return rec, nil
		}
		err = classify(StageEvaluate, m.MSPID, "", err)
		c.metrics.observe(StageEvaluate, "GetTransactionByID", began, err)
		return rec, fmt.Errorf("look up transaction %s: %w", txID, err)
	}
	c.metrics.observe(StageEvaluate, "GetTransactionByID", began, nil)
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
	err = c.each(ctx, m, func(p *peerGateway) error {
		cctx, cancel := context.WithTimeout(ctx, c.opts.EvaluateTimeout)
		defer cancel()
		var err error
		raw, err = p.qscc.EvaluateWithContext(cctx, "GetBlockByTxID", client.WithArguments(c.opts.Channel, txID))
		return err
	})
	if err != nil {
		return rec, fmt.Errorf("look up the block of transaction %s: %w", txID, classify(StageEvaluate, m.MSPID, "", err))
	}
	var block common.Block
	if err := proto.Unmarshal(raw, &block); err != nil {
		return rec, fmt.Errorf("decode block of transaction %s: %w", txID, err)
	}
	rec.BlockNumber = block.GetHeader().GetNumber()
	return rec, nil
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
