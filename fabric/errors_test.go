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

// detail is one peer's message in a gRPC status, as the peer's gateway
// attaches it (fabric internal/pkg/gateway: errorDetail).
type detail struct{ msp, msg string }

func withDetails(t *testing.T, code codes.Code, msg string, details ...detail) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		st, err = st.WithDetails(&gateway.ErrorDetail{Address: "peer0." + d.msp + ":7051", MspId: d.msp, Message: d.msg})
		if err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

// The messages below are the shapes Fabric 2.5's gateway produces
// (internal/pkg/gateway: endorse.go, evaluate.go, submit.go, apiutils.go):
// the first endorser is always of the caller's organisation (ExporterMSP
// here); a chaincode's own error comes as "chaincode response 500, <its
// message>"; a failure the peer generated itself carries no such prefix.
const (
	own            = "ExporterMSP"
	firstFailed    = "failed to endorse transaction, see attached details for more info"
	collectFailed  = "failed to collect enough transaction endorsements, see attached details for more info"
	evaluateFailed = "evaluate call to endorser returned error: "
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		stage     Stage
		err       error
		refusal   shipment.Code
		reason    Reason
		retryable bool
		mayCommit bool
	}{
		{"a refusal in the evaluate message", StageEvaluate,
			withDetails(t, codes.Unknown, evaluateFailed+"chaincode response 500, NOT_FOUND: shipment X does not exist",
				detail{own, "chaincode response 500, NOT_FOUND: shipment X does not exist"}),
			shipment.NotFound, "", false, false},
		{"a refusal by the first endorser", StageEndorse,
			withDetails(t, codes.Aborted, firstFailed, detail{own, "chaincode response 500, FORBIDDEN: only the buyer (RetailerMSP) may do this"}),
			shipment.Forbidden, "", false, false},
		{"a refusal when the caller named its own organisation as the only endorser", StageEndorse,
			withDetails(t, codes.Aborted, collectFailed, detail{own, "chaincode response 500, NOT_FOUND: no buyer contact for X"}),
			shipment.NotFound, "", false, false},

		// Deterministic: the chaincode answered, without a code.
		{"a contract failure without a code at endorsement", StageEndorse,
			withDetails(t, codes.Aborted, firstFailed, detail{own, "chaincode response 500, Incorrect number of params. Expected 1, received 3"}),
			"", ReasonContract, false, false},
		{"a contract panic reported without a code", StageEndorse,
			withDetails(t, codes.Aborted, firstFailed, detail{own, "chaincode response 500, runtime error: index out of range [3] with length 1"}),
			"", ReasonContract, false, false},
		{"a contract failure without a code on every peer of the organisation", StageEndorse,
			withDetails(t, codes.Aborted, firstFailed, detail{own, "chaincode response 500, Function Nope not found in contract"},
				detail{own, "chaincode response 500, Function Nope not found in contract"}),
			"", ReasonContract, false, false},
		{"a contract failure without a code in a query", StageEvaluate,
			withDetails(t, codes.Unknown, evaluateFailed+"chaincode response 500, json: cannot unmarshal",
				detail{own, "chaincode response 500, json: cannot unmarshal"}),
			"", ReasonContract, false, false},

		// Endorsers of different organisations disagree: one is behind.
		{"endorsements that do not match", StageEndorse,
			withDetails(t, codes.Aborted, collectFailed, detail{"CarrierMSP", "ProposalResponsePayloads do not match"}),
			"", ReasonDisagreement, true, false},
		{"another organisation's peer one block behind refuses", StageEndorse,
			withDetails(t, codes.Aborted, collectFailed, detail{"CarrierMSP", "chaincode response 500, CONFLICT: shipment X is CREATED, not SHIPPED"}),
			"", ReasonDisagreement, true, false},
		{"another organisation's peer fails without a code", StageEndorse,
			withDetails(t, codes.Aborted, collectFailed, detail{"RetailerMSP", "chaincode response 500, Incorrect number of params"},
				detail{"CarrierMSP", "ProposalResponsePayloads do not match"}),
			"", ReasonDisagreement, true, false},

		// An upgrade's new definition is committing (Fabric 2.5's words,
		// seen by test/upgrade): endorsed again inside the client.
		{"the caller's peer switched definitions during the proposal", StageEndorse,
			withDetails(t, codes.Aborted, firstFailed, detail{own, "make sure the chaincode shiptrace has been successfully defined on channel supplychain and try again: chaincode cache at sequence 4 but current sequence is 3, chaincode definition for 'shiptrace' changed during invoke"}),
			"", ReasonDefinitionChanging, true, false},
		{"discovery does not yet see the new definition's package", StageEndorse,
			status.Error(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: required chaincodes are not installed on sufficient peers"),
			"", ReasonDefinitionChanging, true, false},
		{"a query while the peer switches definitions", StageEvaluate,
			withDetails(t, codes.Aborted, "failed to evaluate transaction, see attached details for more info",
				detail{own, "chaincode definition for 'shiptrace' changed during invoke"}),
			"", ReasonDefinitionChanging, true, false},

		// Infrastructure that may come back.
		{"an unreachable peer", StageEndorse, status.Error(codes.Unavailable, "connection refused"), "", ReasonUnavailable, true, false},
		{"an endorsement timeout", StageEndorse, status.Error(codes.DeadlineExceeded, "endorsement timeout expired while collecting endorsements"), "", ReasonUnavailable, true, false},
		{"the caller's chaincode server unreachable", StageEndorse,
			withDetails(t, codes.Aborted, firstFailed, detail{own, "error in simulation: failed to execute transaction abc: could not launch chaincode shiptrace_1.0:ab: connection refused"}),
			"", ReasonUnavailable, true, false},
		{"a query while the chaincode server is down", StageEvaluate,
			withDetails(t, codes.Aborted, "failed to evaluate transaction, see attached details for more info",
				detail{own, "error in simulation: failed to execute transaction abc: chaincode stream terminated"}),
			"", ReasonUnavailable, true, false},
		{"the gateway's own deadline", StageEvaluate, context.DeadlineExceeded, "", ReasonUnavailable, true, false},

		// The peer refused the request itself: the same request fails again.
		// Fabric words an org whose peers gossip no longer sees (down, or
		// its host cut off) exactly as it words the upgrade's moment above:
		// discovery finds too few peers with the chaincode. Both are worth
		// trying again a few times, and both end as 503 with Retry-After.
		{"no reachable peers of an org the policy needs (down, or cut off)", StageEndorse,
			status.Error(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: required chaincodes are not installed on sufficient peers"), "", ReasonDefinitionChanging, true, false},
		{"no peers at all for an org the policy needs", StageEndorse,
			status.Error(codes.FailedPrecondition, "failed to find any endorsing peers for org(s): ExporterMSP"), "", ReasonUnavailable, true, false},
		{"access denied by the peer", StageEndorse, status.Error(codes.FailedPrecondition, "access denied: channel [supplychain] creator org unknown"), "", ReasonRejected, false, false},
		{"an aborted endorsement without any peer's word", StageEndorse, status.Error(codes.Aborted, "failed to assemble transaction: bad"), "", ReasonRejected, false, false},
		{"an internal peer error", StageEndorse, status.Error(codes.Internal, "boom"), "", ReasonRejected, false, false},

		// Ordering.
		{"every orderer refusing means nothing was ordered", StageSubmit,
			status.Error(codes.Unavailable, "no orderers could successfully process transaction"), "", ReasonUnavailable, true, false},
		{"an orderer's 4xx is final and nothing was ordered", StageSubmit,
			status.Error(codes.Aborted, "received unsuccessful response from orderer: status=BAD_REQUEST, info=bad"), "", ReasonRejected, false, false},
		{"a submit cut off midway may have committed", StageSubmit, status.Error(codes.DeadlineExceeded, "deadline exceeded"), "", ReasonOutcomeUnknown, true, true},
		{"an unknown submit failure may have committed", StageSubmit, status.Error(codes.Internal, "stream reset"), "", ReasonOutcomeUnknown, true, true},
		{"a commit status timeout may have committed", StageCommitStatus, context.DeadlineExceeded, "", ReasonOutcomeUnknown, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.stage, own, "tx1", tt.err)
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
			if fe.Reason != tt.reason || fe.Retryable != tt.retryable || fe.MayHaveCommitted != tt.mayCommit || fe.Stage != tt.stage {
				t.Errorf("got reason %q retryable %v mayHaveCommitted %v stage %s, want %q %v %v %s",
					fe.Reason, fe.Retryable, fe.MayHaveCommitted, fe.Stage, tt.reason, tt.retryable, tt.mayCommit, tt.stage)
			}
			if got, want := reendorse(err), tt.reason == ReasonDisagreement; got != want {
				t.Errorf("endorsed again: %v, want %v", got, want)
			}
			if got, want := switching(err), tt.reason == ReasonDefinitionChanging; got != want {
				t.Errorf("tried again after the switch: %v, want %v", got, want)
			}
		})
	}
}

// TestDisagreementKeepsTheRefusal: once the retries are spent, a refusal by
// another organisation's peer is the answer (its clock may be off, or it is
// far behind): the caller reads the contract's code and message.
func TestDisagreementKeepsTheRefusal(t *testing.T) {
	err := classify(StageEndorse, own, "tx1", withDetails(t, codes.Aborted, collectFailed,
		detail{"CarrierMSP", "chaincode response 500, INVALID: time is more than 5m from the peer's clock"}))
	final := settled(err)
	if got := shipment.ErrorCode(final); got != shipment.Invalid {
		t.Fatalf("after the retries: %v (code %q), want the carrier peer's INVALID", final, got)
	}
	mismatch := classify(StageEndorse, own, "tx1", withDetails(t, codes.Aborted, collectFailed,
		detail{"CarrierMSP", "ProposalResponsePayloads do not match"}))
	var fe *Error
	if !errors.As(settled(mismatch), &fe) || !fe.Retryable {
		t.Fatalf("a lasting mismatch: %v, want a retryable *Error", settled(mismatch))
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
