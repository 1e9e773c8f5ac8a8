package fabric

import (
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelope builds a transaction envelope the way a peer's block holds one.
func envelope(t *testing.T, txID, creator string, at time.Time, endorsers ...string) []byte {
	t.Helper()
	var ends []*peer.Endorsement
	for _, e := range endorsers {
		ends = append(ends, &peer.Endorsement{Endorser: mustMarshal(t, &msp.SerializedIdentity{Mspid: e})})
	}
	cap := &peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{Endorsements: ends}}
	tx := &peer.Transaction{Actions: []*peer.TransactionAction{{Payload: mustMarshal(t, cap)}}}
	payload := &common.Payload{
		Header: &common.Header{
			ChannelHeader:   mustMarshal(t, &common.ChannelHeader{TxId: txID, Timestamp: timestamppb.New(at)}),
			SignatureHeader: mustMarshal(t, &common.SignatureHeader{Creator: mustMarshal(t, &msp.SerializedIdentity{Mspid: creator})}),
		},
		Data: mustMarshal(t, tx),
	}
	return mustMarshal(t, &common.Envelope{Payload: mustMarshal(t, payload)})
}

func TestProvenanceInReadsTheTransactionsOwnEntry(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	block := &common.Block{
		Header: &common.BlockHeader{Number: 42},
		Data: &common.BlockData{Data: [][]byte{
			envelope(t, "tx-a", "CarrierMSP", at.Add(-time.Minute), "CarrierMSP"),
			envelope(t, "tx-b", "ExporterMSP", at, "RetailerMSP", "ExporterMSP", "RetailerMSP"),
		}},
		Metadata: &common.BlockMetadata{Metadata: [][]byte{{}, {}, {
			byte(peer.TxValidationCode_VALID), byte(peer.TxValidationCode_MVCC_READ_CONFLICT)}}},
	}
	p, err := ProvenanceIn(block, "tx-b")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Found || p.BlockNumber != 42 || p.Valid || p.Code != "MVCC_READ_CONFLICT" || !p.Time.Equal(at) ||
		p.Creator != "ExporterMSP" || len(p.Endorsers) != 2 || p.Endorsers[0] != "ExporterMSP" || p.Endorsers[1] != "RetailerMSP" {
		t.Fatalf("tx-b = %+v", p)
	}
	p, err = ProvenanceIn(block, "tx-a")
	if err != nil || !p.Valid || p.Creator != "CarrierMSP" || len(p.Endorsers) != 1 {
		t.Fatalf("tx-a = %+v, %v", p, err)
	}
	if _, err := ProvenanceIn(block, "tx-c"); err == nil {
		t.Fatal("a transaction the block does not hold was found")
	}
}
