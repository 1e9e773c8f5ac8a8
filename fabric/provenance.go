package fabric

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Provenance is what the block holding a transaction says about it: the
// proof a public page shows that a step is on the ledger, read from the
// peer's block store rather than from anything the gateway keeps.
type Provenance struct {
	TxID        string
	Found       bool
	BlockNumber uint64
	Valid       bool
	Code        string // TxValidationCode name
	// Time is the transaction's timestamp from its channel header: Fabric
	// blocks carry no commit time, and every endorser checked this one
	// against its own clock (chaincode README, trust matrix point 3).
	Time time.Time
	// Endorsers are the MSP IDs of the peers whose endorsements the block
	// holds, sorted and without repeats.
	Endorsers []string
	Creator   string // MSP ID of the submitting organisation
}

// Provenance reads the block of a transaction (qscc GetBlockByTxID, one
// call) and decodes what it says about that transaction. An unknown ID is
// Found false, not an error.
func (c *Client) Provenance(ctx context.Context, identity, txID string) (Provenance, error) {
	m, err := c.member(identity)
	if err != nil {
		return Provenance{}, err
	}
	raw, err := c.queryLedger(ctx, m, "GetBlockByTxID", txID)
	if err != nil {
		return Provenance{}, fmt.Errorf("look up the block of transaction %s: %w", txID, err)
	}
	if raw == nil {
		return Provenance{TxID: txID}, nil
	}
	var block common.Block
	if err := proto.Unmarshal(raw, &block); err != nil {
		return Provenance{}, fmt.Errorf("decode the block of transaction %s: %w", txID, err)
	}
	return ProvenanceIn(&block, txID)
}

// ProvenanceIn finds txID among a block's transactions and decodes its
// validation code, timestamp, creator and endorsers.
func ProvenanceIn(block *common.Block, txID string) (Provenance, error) {
	out := Provenance{TxID: txID, BlockNumber: block.GetHeader().GetNumber()}
	var filter []byte
	if md := block.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i, envBytes := range block.GetData().GetData() {
		var env common.Envelope
		if err := proto.Unmarshal(envBytes, &env); err != nil {
			return out, fmt.Errorf("decode envelope %d of block %d: %w", i, out.BlockNumber, err)
		}
		var payload common.Payload
		if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
			return out, fmt.Errorf("decode payload %d of block %d: %w", i, out.BlockNumber, err)
		}
		var ch common.ChannelHeader
		if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), &ch); err != nil {
			return out, fmt.Errorf("decode channel header %d of block %d: %w", i, out.BlockNumber, err)
		}
		if ch.GetTxId() != txID {
			continue
		}
		out.Found = true
		out.Time = ch.GetTimestamp().AsTime().UTC()
		code := peer.TxValidationCode_NOT_VALIDATED
		if i < len(filter) {
			code = peer.TxValidationCode(filter[i])
		}
		out.Code, out.Valid = code.String(), code == peer.TxValidationCode_VALID
		if creator, err := creatorOf(&env); err == nil {
			out.Creator = creator.GetMspid()
		}
		endorsers, err := endorsersOf(payload.GetData())
		if err != nil {
			return out, fmt.Errorf("decode the endorsements of transaction %s: %w", txID, err)
		}
		out.Endorsers = endorsers
		return out, nil
	}
	return out, fmt.Errorf("block %d does not hold transaction %s", out.BlockNumber, txID)
}

// endorsersOf lists the MSP IDs of a transaction's endorsements.
func endorsersOf(txBytes []byte) ([]string, error) {
	var tx peer.Transaction
	if err := proto.Unmarshal(txBytes, &tx); err != nil {
		return nil, err
	}
	var out []string
	for _, action := range tx.GetActions() {
		var cap peer.ChaincodeActionPayload
		if err := proto.Unmarshal(action.GetPayload(), &cap); err != nil {
			return nil, err
		}
		for _, e := range cap.GetAction().GetEndorsements() {
			var id msp.SerializedIdentity
			if err := proto.Unmarshal(e.GetEndorser(), &id); err != nil {
				return nil, err
			}
			out = append(out, id.GetMspid())
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
