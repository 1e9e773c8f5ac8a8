package fabric

import (
	"context"
	"errors"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shiptrace/shiptrace/shipment"
)

func withDetails(t *testing.T, code codes.Code, msg string, details ...string) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		st, err = st.WithDetails(&gateway.ErrorDetail{Address: "peer0:7051", MspId: "ExporterMSP", Message: d})
		if err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		stage     Stage
		err       error
		refusal   shipment.Code
		retryable bool
		mayCommit bool
	}{
		{"a refusal in the evaluate message", StageEvaluate,
			status.Error(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, NOT_FOUND: shipment X does not exist"),
			shipment.NotFound, false, false},
		{"a refusal in the endorse details", StageEndorse,
			withDetails(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
				"chaincode response 500, FORBIDDEN: only the buyer (RetailerMSP) may do this"),
			shipment.Forbidden, false, false},
		{"an unreachable peer", StageEndorse, status.Error(codes.Unavailable, "connection refused"), "", true, false},
		{"a mismatch between endorsers", StageEndorse, status.Error(codes.Aborted, "ProposalResponsePayloads do not match"), "", true, false},
		{"a chaincode crash without a code", StageEndorse,
			withDetails(t, codes.Aborted, "failed to endorse", "chaincode response 500, runtime error: index out of range"), "", true, false},
		{"an internal peer error", StageEndorse, status.Error(codes.Internal, "boom"), "", false, false},
		{"every orderer refusing means nothing was ordered", StageSubmit, status.Error(codes.Unavailable, "no orderers could successfully process transaction"), "", true, false},
		{"a submit cut off midway may have committed", StageSubmit, status.Error(codes.DeadlineExceeded, "deadline exceeded"), "", true, true},
		{"an unknown submit failure may have committed", StageSubmit, status.Error(codes.Internal, "stream reset"), "", true, true},
		{"a commit status timeout may have committed", StageCommitStatus, context.DeadlineExceeded, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.stage, "tx1", tt.err)
			if got := shipment.ErrorCode(err); got != tt.refusal {
				t.Fatalf("refusal %q, want %q (%v)", got, tt.refusal, err)
			}
			if tt.refusal != "" {
				return
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not *Error", err)
			}
			if fe.Retryable != tt.retryable || fe.MayHaveCommitted != tt.mayCommit || fe.Stage != tt.stage {
				t.Errorf("got %+v", fe)
			}
		})
	}
}

func TestFailoverOnlyForUnreachablePeers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"unavailable", ctx, status.Error(codes.Unavailable, "down"), true},
		{"per-call timeout", ctx, status.Error(codes.DeadlineExceeded, "slow"), true},
		{"the caller gave up", canceled(), status.Error(codes.Unavailable, "down"), false},
		{"a refusal", ctx, status.Error(codes.Aborted, "FORBIDDEN: no"), false},
		{"not a gRPC error", ctx, errors.New("bad proposal"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failover(tt.ctx, tt.err); got != tt.want {
				t.Errorf("failover %v, want %v", got, tt.want)
			}
		})
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
