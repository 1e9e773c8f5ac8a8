package chaincode_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// txSize is what one committed transaction costs the ledger, in bytes: the
// whole envelope as the block stores it, and inside it the proposal response
// payload (write set, event and result, signed by every endorser) and its
// parts.
type txSize struct {
	envelope, proposalResponse, result, event, rwset int
}

// BenchmarkWriteSize prints the bytes each kind of write adds to a block. It
// reads each transaction back from the ledger (qscc GetTransactionByID) and
// takes its envelope apart, so the figures are what every peer stores.
// Run: go test -run XXX -bench WriteSize -benchtime 1x ./test/chaincode/
func BenchmarkWriteSize(b *testing.B) {
	o := connect(b)
	qscc := o.networks[exporterMSP].GetContract("qscc")
	measure := func(msp, fn string, args ...string) txSize {
		b.Helper()
		res, commit, err := o.contracts[msp].SubmitAsync(fn, client.WithArguments(args...))
		if err != nil {
			b.Fatalf("%s: %s", fn, describe(err))
		}
		st, err := commit.Status()
		if err != nil || !st.Successful {
			b.Fatalf("%s: commit %v %v", fn, st, err)
		}
		o.sync(b, st.BlockNumber)
		raw, err := qscc.EvaluateTransaction("GetTransactionByID", o.net.Profile.Channel, st.TransactionID)
		if err != nil {
			b.Fatalf("GetTransactionByID %s: %v", st.TransactionID, err)
		}
		s, err := sizeOf(raw)
		if err != nil {
			b.Fatalf("%s: %v", fn, err)
		}
		if s.result != len(res) {
			b.Fatalf("%s: the block holds a result of %d bytes, the client got %d", fn, s.result, len(res))
		}
		return s
	}
	id := testnet.UniqueID("SIZE")
	rows := []struct {
		name string
		size txSize
	}{
		{"CreateShipment", measure(exporterMSP, "CreateShipment", newShipmentJSON(b, id))},
		{"Ship", measure(exporterMSP, "Ship", id)},
		{"HandOver", measure(exporterMSP, "HandOver", id, carrierMSP)},
	}
	next := time.Now().UTC().Truncate(time.Millisecond)
	for _, n := range []int{100, 500} {
		batch := make([]shipment.Reading, n)
		for i := range batch {
			batch[i] = shipment.Reading{SensorID: "logger-" + strconv.Itoa(i%4), Time: next, Celsius: 3 + float64(i%40)/10}
			next = next.Add(time.Millisecond)
		}
		rows = append(rows, struct {
			name string
			size txSize
		}{fmt.Sprintf("RecordReadings %d", n), measure(carrierMSP, "RecordReadings", id, mustJSON(b, batch))})
	}
	fmt.Printf("%-20s %9s %17s %7s %6s %6s\n", "transaction", "envelope", "proposalResponse", "result", "event", "rwset")
	for _, r := range rows {
		fmt.Printf("%-20s %9d %17d %7d %6d %6d\n", r.name, r.size.envelope, r.size.proposalResponse, r.size.result, r.size.event, r.size.rwset)
	}
}

// sizeOf takes a processed transaction apart: envelope > payload >
// transaction > action > proposal response payload > chaincode action.
func sizeOf(processed []byte) (txSize, error) {
	var pt peer.ProcessedTransaction
	if err := proto.Unmarshal(processed, &pt); err != nil {
		return txSize{}, fmt.Errorf("decode processed transaction: %w", err)
	}
	env := pt.GetTransactionEnvelope()
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return txSize{}, fmt.Errorf("decode payload: %w", err)
	}
	var tx peer.Transaction
	if err := proto.Unmarshal(payload.GetData(), &tx); err != nil {
		return txSize{}, fmt.Errorf("decode transaction: %w", err)
	}
	if len(tx.GetActions()) == 0 {
		return txSize{}, fmt.Errorf("transaction has no actions")
	}
	var cap peer.ChaincodeActionPayload
	if err := proto.Unmarshal(tx.GetActions()[0].GetPayload(), &cap); err != nil {
		return txSize{}, fmt.Errorf("decode action payload: %w", err)
	}
	prp := cap.GetAction().GetProposalResponsePayload()
	var resp peer.ProposalResponsePayload
	if err := proto.Unmarshal(prp, &resp); err != nil {
		return txSize{}, fmt.Errorf("decode proposal response payload: %w", err)
	}
	var action peer.ChaincodeAction
	if err := proto.Unmarshal(resp.GetExtension(), &action); err != nil {
		return txSize{}, fmt.Errorf("decode chaincode action: %w", err)
	}
	return txSize{
		envelope:         proto.Size(env),
		proposalResponse: len(prp),
		result:           len(action.GetResponse().GetPayload()),
		event:            len(action.GetEvents()),
		rwset:            len(action.GetResults()),
	}, nil
}
