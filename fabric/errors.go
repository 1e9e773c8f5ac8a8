package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shiptrace/shiptrace/shipment"
)

// Stage names the step of a transaction that failed. It follows
// fabric-gateway's error types (EndorseError, SubmitError, CommitStatusError,
// CommitError) so that logs and metrics speak the same language as Fabric.
type Stage string

// The stages of a call.
const (
	StageEvaluate     Stage = "evaluate"
	StageEndorse      Stage = "endorse"
	StageSubmit       Stage = "submit"
	StageCommitStatus Stage = "commit_status"
	StageCommit       Stage = "commit"
)

// Reason says why a call failed, in the terms that decide whether the same
// request may pass later. Only a few failures really may: an unreachable or
// slow peer or orderer, endorsers that disagree because one of them is a
// block behind, a lost MVCC race, and a transaction whose outcome is
// unknown. Everything else fails the same way every time and must not be
// retried by anyone.
type Reason string

// The reasons.
const (
	// ReasonUnavailable: a peer, its chaincode server or every orderer could
	// not be reached, or did not answer in time; nothing was ordered.
	// Retryable.
	ReasonUnavailable Reason = "unavailable"
	// ReasonDisagreement: endorsing peers of different organisations
	// answered differently (their results did not match, or one refused
	// what the caller's own peer accepted): one is behind by a block.
	// Endorsed again inside the client (fabric.Options.MVCCRetries), then
	// retryable.
	ReasonDisagreement Reason = "disagreement"
	// ReasonContract: the chaincode answered with an error that carries
	// none of the contract's codes: a bug, or a call it does not understand
	// (wrong function or arguments). Deterministic: not retryable.
	ReasonContract Reason = "contract"
	// ReasonRejected: the peer or the orderer refused the request itself
	// (access denied, a malformed transaction, an orderer's 4xx) or failed
	// in a way no retry fixes. Not retryable.
	ReasonRejected Reason = "rejected"
	// ReasonOutcomeUnknown: the transaction may have reached the orderer
	// and its outcome is unknown. Retryable with the same Idempotency-Key.
	ReasonOutcomeUnknown Reason = "outcome_unknown"
	// ReasonConflict: the transaction kept losing MVCC or phantom read
	// conflicts. Retryable.
	ReasonConflict Reason = "conflict"
	// ReasonInvalidated: the channel invalidated the transaction for
	// another reason (e.g. ENDORSEMENT_POLICY_FAILURE). Not retryable.
	ReasonInvalidated Reason = "invalidated"
	// ReasonDefinitionChanging: a new chaincode definition (an upgrade) is
	// committing: a peer's definition changed while it ran the proposal
	// ("chaincode definition for 'shiptrace' changed during invoke"), or
	// the peer's discovery does not yet see enough peers with the new
	// definition's package ("required chaincodes are not installed on
	// sufficient peers") until their gossip state catches up, a few
	// seconds. Endorsed again inside the client, then retryable.
	ReasonDefinitionChanging Reason = "definition_changing"
)

// Error is a failure of the network, or of the contract without one of its
// codes, rather than a refusal by the contract. Retryable says whether the
// same request may succeed later unchanged (the REST layer answers 503 with
// Retry-After); otherwise it is answered 502.
type Error struct {
	Stage     Stage
	Reason    Reason
	TxID      string     // empty for evaluations
	Code      codes.Code // gRPC status code; codes.OK for a commit failure
	TxCode    string     // commit stage: the peer's TxValidationCode, e.g. MVCC_READ_CONFLICT
	Retryable bool
	// MayHaveCommitted is true when the transaction reached the orderer but
	// its outcome is unknown (submit or commit-status failure): a client must
	// not blindly resend it without an Idempotency-Key.
	MayHaveCommitted bool
	Err              error
	// refusal is a refusal by another organisation's peer behind a
	// disagreement: the answer once the retries are spent.
	refusal *shipment.Error
}

func (e *Error) Error() string {
	s := string(e.Stage)
	if e.TxID != "" {
		s += " transaction " + e.TxID
	}
	if e.TxCode != "" {
		return s + ": " + e.TxCode
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownIdentity is returned for a request naming an identity the client
// does not hold.
var ErrUnknownIdentity = errors.New("unknown identity")

// classify turns an error from fabric-gateway into either a contract refusal
// (*shipment.Error, wrapped) or an *Error with its Reason. own is the
// caller's MSP ID: Fabric's gateway always endorses first on a peer of its
// own organisation, so a failure reported by another organisation's peer
// means the first endorsement passed and the endorsers disagree. The
// contract's refusal is recovered from the gRPC status message or its
// per-peer details, where the peer quotes the chaincode's "CODE: message";
// the contract's wording is never matched.
func classify(stage Stage, own, txID string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Stage: stage, TxID: txID, Err: err}
	var se *shipment.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %w", stage, se)
	}
	st, isStatus := status.FromError(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		e.Code, e.Reason = codes.DeadlineExceeded, ReasonUnavailable
	case isStatus && (stage == StageEvaluate || stage == StageEndorse) && definitionChanging(st):
		e.Code, e.Reason = st.Code(), ReasonDefinitionChanging
	case isStatus:
		e.Code = st.Code()
		if stage == StageEvaluate || stage == StageEndorse {
			if refusal := proposalFailure(e, st, own); refusal != nil {
				return fmt.Errorf("%s: %w", stage, refusal)
			}
		} else {
			e.Reason = reasonOf(st.Code())
		}
	default:
		e.Reason = ReasonRejected
	}
	switch stage {
	case StageSubmit:
		switch e.Code {
		case codes.Unavailable:
			// The peer's gateway answers Unavailable only after every
			// orderer refused the transaction (no Raft leader during an
			// election, an orderer down) or could not be reached: none of
			// them took it, so it cannot commit and a retry may run it
			// again at once.
			e.Reason = ReasonUnavailable
		case codes.Aborted, codes.FailedPrecondition, codes.InvalidArgument, codes.PermissionDenied:
			// An orderer's 4xx (Aborted), or the peer refusing the
			// transaction before sending it: nothing was ordered, and the
			// same transaction is refused again.
			e.Reason = ReasonRejected
		default:
			// Cut off midway: the outcome is unknown.
			e.Reason, e.MayHaveCommitted = ReasonOutcomeUnknown, true
		}
	case StageCommitStatus:
		// The orderer may have the transaction: the outcome is unknown, and
		// asking again later (the commit status, or a retry with the same
		// Idempotency-Key) is the way forward.
		e.Reason, e.MayHaveCommitted = ReasonOutcomeUnknown, true
	}
	e.Retryable = e.Reason.retryable()
	return e
}

func (r Reason) retryable() bool {
	switch r {
	case ReasonUnavailable, ReasonDisagreement, ReasonOutcomeUnknown, ReasonConflict, ReasonDefinitionChanging:
		return true
	}
	return false
}

// reasonOf reads a gRPC code that comes without any peer's word on it.
func reasonOf(c codes.Code) Reason {
	switch c {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Canceled:
		return ReasonUnavailable
	}
	return ReasonRejected
}

// proposalFailure reads an evaluation or endorsement failure from the
// per-peer details Fabric's gateway attaches. It returns the contract's
// refusal when that is the answer, and otherwise sets e.Reason:
//
//   - a failure reported by another organisation's peer: the caller's own
//     peer endorsed (it always goes first), so the endorsers disagree:
//     ReasonDisagreement, keeping a refusal for when the retries are spent;
//   - the caller's own peer quoting the contract's "CODE: message": the
//     refusal;
//   - the caller's own peer quoting the chaincode's answer without a code
//     ("chaincode response 500, ..."): ReasonContract;
//   - the caller's own peer failing without the chaincode's answer (its
//     chaincode server unreachable or crashed, a simulation timeout):
//     ReasonUnavailable;
//   - no detail: the gRPC code decides.
func proposalFailure(e *Error, st *status.Status, own string) *shipment.Error {
	var (
		ownRefusal, otherRefusal    *shipment.Error
		other, answered, unanswered bool
	)
	details := peerDetails(st)
	for _, d := range details {
		r, coded := shipment.ParseError(d.GetMessage())
		if own != "" && d.GetMspId() != "" && d.GetMspId() != own {
			other = true
			if coded && otherRefusal == nil {
				otherRefusal = r
			}
			continue
		}
		switch {
		case coded:
			if ownRefusal == nil {
				ownRefusal = r
			}
		case chaincodeAnswered(d.GetMessage()):
			answered = true
		default:
			unanswered = true
		}
	}
	switch {
	case ownRefusal != nil:
		return ownRefusal
	case len(details) == 0:
		if r, ok := shipment.ParseError(st.Message()); ok {
			return r
		}
		switch {
		case chaincodeAnswered(st.Message()):
			e.Reason = ReasonContract
		case endorsersUnavailable(st):
			e.Reason = ReasonUnavailable
		default:
			e.Reason = reasonOf(st.Code())
		}
	case other:
		e.Reason, e.refusal = ReasonDisagreement, otherRefusal
	case answered && !unanswered:
		e.Reason = ReasonContract
	default:
		e.Reason = ReasonUnavailable
	}
	return nil
}

// chaincodeAnswered reports a message in which the peer quotes the
// chaincode's own error response: Fabric's gateway writes "chaincode
// response <status>, <message>" for a response the chaincode produced, and
// the bare message for a failure the peer generated itself
// (fabric internal/pkg/gateway/apiutils.go, responseStatus).
func chaincodeAnswered(msg string) bool {
	const marker = "chaincode response "
	i := strings.Index(msg, marker)
	if i < 0 {
		return false
	}
	rest := msg[i+len(marker):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	return n > 0 && strings.HasPrefix(rest[n:], ", ")
}

// reendorse reports an endorsement worth repeating at once: the endorsers
// disagreed, and a moment later the one behind has the block.
func reendorse(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Stage == StageEndorse && fe.Reason == ReasonDisagreement
}

// switching reports an endorsement or evaluation that failed because a new
// chaincode definition is committing: worth repeating once the peers have
// switched (see ReasonDefinitionChanging).
func switching(err error) bool {
	var fe *Error
	return errors.As(err, &fe) && fe.Reason == ReasonDefinitionChanging
}

// definitionChanging reads Fabric's own words for the moment a chaincode
// definition changes under a proposal (the peer's lifecycle cache moved to
// the new sequence while it ran; core/chaincode/lifecycle) or before the
// peers' gossip advertises the new definition's package to discovery
// (discovery/endorsement). Fabric gives them no distinct code: the first
// comes as Aborted with per-peer details, the second as FailedPrecondition,
// which otherwise means a request no retry fixes.
func definitionChanging(st *status.Status) bool {
	msgs := []string{st.Message()}
	for _, d := range peerDetails(st) {
		msgs = append(msgs, d.GetMessage())
	}
	for _, m := range msgs {
		if strings.Contains(m, "changed during invoke") ||
			strings.Contains(m, "required chaincodes are not installed on sufficient peers") {
			return true
		}
	}
	return false
}

// settled is the answer for an endorsement whose retries are spent: a
// lasting disagreement in which another organisation's peer refused with a
// code is that refusal (its clock may be off, or it is far behind), so the
// caller reads the contract's code and message.
func settled(err error) error {
	var fe *Error
	if errors.As(err, &fe) && fe.Reason == ReasonDisagreement && fe.refusal != nil {
		return fmt.Errorf("%s: %w", fe.Stage, fe.refusal)
	}
	return err
}

func peerDetails(st *status.Status) []*gateway.ErrorDetail {
	var out []*gateway.ErrorDetail
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			out = append(out, ed)
		}
	}
	return out
}

// failover reports whether an error means the peer itself is unreachable, so
// the same call may be sent to another peer of the organisation.
func failover(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var (
		endorse *client.EndorseError
		submit  *client.SubmitError
		commit  *client.CommitStatusError
	)
	if !errors.As(err, &endorse) && !errors.As(err, &submit) && !errors.As(err, &commit) {
		if _, ok := status.FromError(err); !ok {
			return false
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// statusDetails returns the per-peer messages attached to a gRPC status.
func statusDetails(err error) []string {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []string
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			out = append(out, ed.GetMessage())
		}
	}
	return out
}

// endorsersUnavailable reports Fabric's gateway finding no reachable set of
// peers that satisfies the endorsement policy: the peers of an organisation
// the policy needs are not in its gossip membership (down, or its host cut
// off from the others). It answers FailedPrecondition, but the condition
// passes when the peers return, so it is Unavailable, not a refusal
// (fabric internal/pkg/gateway/registry.go, endorsementPlan).
func endorsersUnavailable(st *status.Status) bool {
	if st.Code() != codes.FailedPrecondition {
		return false
	}
	msg := st.Message()
	for _, m := range []string{
		"no combination of peers can be derived which satisfy the endorsement policy",
		"due to unavailability of peers",
		"failed to find any endorsing peers for org(s)",
	} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
