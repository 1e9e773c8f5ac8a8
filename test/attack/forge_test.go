package attack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestForgedEndorsementRefused: attack "forged endorsement". A member's
// client identity (an auditor, who may write nothing) skips the chaincode
// altogether: it assembles an endorser transaction by hand that rewrites a
// shipment record, signs the "endorsement" with its own client key and
// broadcasts it straight to an orderer. The shipment key's endorsement
// policy must demand peers, so the transaction must commit as
// ENDORSEMENT_POLICY_FAILURE and the record stay as it was. The second case
// forges the two endorsements exporter AND custodian with two client
// certificates, one of each organisation.
func TestForgedEndorsementRefused(t *testing.T) {
	l := openLedger(t)
	exporterAuditor := issueParty(t, l.net, mspExporter, "auditor")
	carrierAuditor := issueParty(t, l.net, mspCarrier, "auditor")

	tests := []struct {
		name      string
		custody   []string // HandOver targets after Ship; none = left CREATED
		endorsers []*party
		forge     func(s *shipment.Shipment)
	}{
		{
			name:      "one exporter client endorsement on a CREATED shipment",
			endorsers: []*party{exporterAuditor},
			forge: func(s *shipment.Shipment) {
				s.Status = shipment.StatusDelivered
				s.Terms.InvoiceAmountMinor = 1
				s.ColdChain.State = shipment.ColdChainBreached
				s.ColdChain.BreachReason = "forged"
			},
		},
		{
			name:      "exporter and carrier client endorsements after hand-over to the carrier",
			custody:   []string{mspCarrier},
			endorsers: []*party{exporterAuditor, carrierAuditor},
			forge: func(s *shipment.Shipment) {
				s.ColdChain = shipment.ColdChainSummary{State: shipment.ColdChainOK}
				s.Terms.BreachRefundBps = 0
				s.Custodian = mspExporter
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := l.create(t, nil)
			if len(tc.custody) > 0 {
				l.do(t, mspExporter, "Ship", id)
				for _, to := range tc.custody {
					l.do(t, l.shipment(t, id).Custodian, "HandOver", id, to)
				}
			}
			before := l.record(t, id)
			var s shipment.Shipment
			if err := json.Unmarshal(before, &s); err != nil {
				t.Fatalf("decode shipment %s: %v", id, err)
			}
			tc.forge(&s)
			s.UpdatedBy = exporterAuditor.msp
			forged, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			env, txID, err := forgeWrite(exporterAuditor, tc.endorsers, id, forged)
			if err != nil {
				t.Fatalf("forge transaction: %v", err)
			}
			a := attempt{err: broadcast(ctx, l.net.Layout(t), exporterAuditor, env)}
			if a.err == nil {
				a.st, a.err = exporterAuditor.commitStatus(ctx, txID)
				if a.err != nil {
					t.Fatalf("forged transaction %s: %v", txID, a.err)
				}
				t.Logf("forged tx %s (endorsed by client certificates %v) committed in block %d as %s",
					txID, tc.endorsers, a.st.BlockNumber, a.st.Code)
				if !a.st.Successful && a.st.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
					t.Errorf("forged tx %s invalid as %s, want ENDORSEMENT_POLICY_FAILURE: the forgery itself is malformed, so this proves nothing",
						txID, a.st.Code)
				}
			}
			l.assertRefused(t, "forged endorsement by client certificates", id, before, a)
		})
	}
}

// chaincodeVersion goes into the forged ChaincodeAction: the validator
// requires a version but does not compare it with the definition.
const chaincodeVersion = "1.0"

// forgeWrite assembles, without any peer, an endorser transaction by creator
// that writes value under the shipment key of id, "endorsed" by the
// signatures of endorsers over (proposal response payload || endorser). It
// returns the signed envelope and its transaction ID.
func forgeWrite(creator *party, endorsers []*party, id string, value []byte) (*common.Envelope, string, error) {
	return forgeKeyWrite(creator, endorsers, id, "\x00shipment\x00"+id+"\x00", value)
}

// forgeKeyWrite is forgeWrite for any public key of the chaincode's
// namespace (id only names the shipment in the proposal's arguments).
func forgeKeyWrite(creator *party, endorsers []*party, id, key string, value []byte) (*common.Envelope, string, error) {
	creatorBytes, err := creator.creator()
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("nonce: %w", err)
	}
	sum := sha256.Sum256(append(append([]byte{}, nonce...), creatorBytes...))
	txID := hex.EncodeToString(sum[:])
	ccID := &peer.ChaincodeID{Name: creator.chaincode}

	ext, err := proto.Marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: ccID})
	if err != nil {
		return nil, "", err
	}
	chHdr, err := proto.Marshal(&common.ChannelHeader{
		Type: int32(common.HeaderType_ENDORSER_TRANSACTION), ChannelId: creator.channel, TxId: txID,
		Timestamp: timestamppb.Now(), Extension: ext,
	})
	if err != nil {
		return nil, "", err
	}
	sigHdr, err := proto.Marshal(&common.SignatureHeader{Creator: creatorBytes, Nonce: nonce})
	if err != nil {
		return nil, "", err
	}
	input, err := proto.Marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type: peer.ChaincodeSpec_GOLANG, ChaincodeId: ccID,
		Input: &peer.ChaincodeInput{Args: [][]byte{[]byte("ReadShipment"), []byte(id)}},
	}})
	if err != nil {
		return nil, "", err
	}
	ccPropPayload, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: input})
	if err != nil {
		return nil, "", err
	}

	results, err := blindWrite(creator.chaincode, key, value)
	if err != nil {
		return nil, "", err
	}
	action, err := proto.Marshal(&peer.ChaincodeAction{
		Results:     results,
		Response:    &peer.Response{Status: 200, Payload: value},
		ChaincodeId: &peer.ChaincodeID{Name: creator.chaincode, Version: chaincodeVersion},
	})
	if err != nil {
		return nil, "", err
	}
	proposalHash := sha256.New()
	proposalHash.Write(chHdr)
	proposalHash.Write(sigHdr)
	proposalHash.Write(ccPropPayload)
	prp, err := proto.Marshal(&peer.ProposalResponsePayload{ProposalHash: proposalHash.Sum(nil), Extension: action})
	if err != nil {
		return nil, "", err
	}

	endorsements := make([]*peer.Endorsement, 0, len(endorsers))
	for _, e := range endorsers {
		endorser, err := e.creator()
		if err != nil {
			return nil, "", err
		}
		sig, err := e.signBytes(append(append([]byte{}, prp...), endorser...))
		if err != nil {
			return nil, "", err
		}
		endorsements = append(endorsements, &peer.Endorsement{Endorser: endorser, Signature: sig})
	}

	ccActionPayload, err := proto.Marshal(&peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: ccPropPayload,
		Action:                   &peer.ChaincodeEndorsedAction{ProposalResponsePayload: prp, Endorsements: endorsements},
	})
	if err != nil {
		return nil, "", err
	}
	tx, err := proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Header: sigHdr, Payload: ccActionPayload}}})
	if err != nil {
		return nil, "", err
	}
	payload, err := proto.Marshal(&common.Payload{
		Header: &common.Header{ChannelHeader: chHdr, SignatureHeader: sigHdr}, Data: tx,
	})
	if err != nil {
		return nil, "", err
	}
	sig, err := creator.signBytes(payload)
	if err != nil {
		return nil, "", err
	}
	return &common.Envelope{Payload: payload, Signature: sig}, txID, nil
}

// blindWrite is a read-write set that blindly writes value under key.
func blindWrite(namespace, key string, value []byte) ([]byte, error) {
	kv, err := proto.Marshal(&kvrwset.KVRWSet{Writes: []*kvrwset.KVWrite{{Key: key, Value: value}}})
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&rwset.TxReadWriteSet{
		DataModel: rwset.TxReadWriteSet_KV,
		NsRwset:   []*rwset.NsReadWriteSet{{Namespace: namespace, Rwset: kv}},
	})
}

// broadcast sends env straight to the first orderer (mutual TLS with p's
// TLS client certificate). An answer other than SUCCESS is an
// *ordererRefusal; any other error means the envelope was not delivered.
func broadcast(ctx context.Context, layout topology.Layout, p *party, env *common.Envelope) error {
	node := layout.Orderers()[0]
	conn, err := fabric.Dial(fabric.Peer{Name: node.Name, Endpoint: node.Address(),
		TLSRootCA: layout.TLSCACert(topology.OrdererOrg), ServerName: node.Host}, p.user)
	if err != nil {
		return fmt.Errorf("dial %s: %w", node.Name, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := orderer.NewAtomicBroadcastClient(conn).Broadcast(ctx)
	if err != nil {
		return fmt.Errorf("broadcast to %s: %w", node.Name, err)
	}
	if err := stream.Send(env); err != nil {
		return fmt.Errorf("broadcast to %s: %w", node.Name, err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("broadcast to %s: %w", node.Name, err)
	}
	if resp.GetStatus() != common.Status_SUCCESS {
		return &ordererRefusal{fmt.Sprintf("orderer %s refused the transaction: %s %s", node.Name, resp.GetStatus(), resp.GetInfo())}
	}
	return stream.CloseSend()
}
