package fabric

import (
	"context"
	"errors"
	"fmt"

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

// Error is a failure of the network rather than a refusal by the contract:
// the peer, the orderer or the commit went wrong. Retryable says whether the
// same request may succeed later unchanged (the REST layer answers 503 with
// Retry-After); otherwise it is answered 502.
type Error struct {
	Stage     Stage
	TxID      string     // empty for evaluations
	Code      codes.Code // gRPC status code; codes.OK for a commit failure
	TxCode    string     // commit stage: the peer's TxValidationCode, e.g. MVCC_READ_CONFLICT
	Retryable bool
	// MayHaveCommitted is true when the transaction reached the orderer but
	// its outcome is unknown (submit or commit-status failure): a client must
	// not blindly resend it without an Idempotency-Key.
	MayHaveCommitted bool
	Err              error
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
// (*shipment.Error, wrapped) or an *Error. The refusal is recovered from the
// gRPC status message or its per-peer details, where the peer quotes the
// chaincode's "CODE: message"; the wording is never matched.
func classify(stage Stage, txID string, err error) error {
	if err == nil {
		return nil
	}
	if refusal, ok := refusalIn(err); ok {
		return fmt.Errorf("%s: %w", stage, refusal)
	}
	e := &Error{Stage: stage, TxID: txID, Err: err}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		e.Code = codes.DeadlineExceeded
		e.Retryable = true
	} else if st, ok := status.FromError(err); ok {
		e.Code = st.Code()
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Canceled:
			e.Retryable = true
		}
	}
	switch stage {
	case StageSubmit:
		// The peer's gateway answers Unavailable only after every orderer
		// refused the transaction (no Raft leader during an election, an
		// orderer down) or could not be reached: none of them took it, so
		// it cannot commit and a retry may run it again at once. Any other
		// failure here leaves the outcome unknown.
		e.Retryable = true
		e.MayHaveCommitted = e.Code != codes.Unavailable
	case StageCommitStatus:
		// The orderer may have the transaction: the outcome is unknown, and
		// asking again later (the commit status, or a retry with the same
		// Idempotency-Key) is the way forward.
		e.MayHaveCommitted = true
		e.Retryable = true
	}
	return e
}

// refusalIn finds a contract refusal in an error from the peer.
func refusalIn(err error) (*shipment.Error, bool) {
	var se *shipment.Error
	if errors.As(err, &se) {
		return se, true
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil, false
	}
	if r, ok := shipment.ParseError(st.Message()); ok {
		return r, true
	}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			if r, ok := shipment.ParseError(ed.GetMessage()); ok {
				return r, true
			}
		}
	}
	return nil, false
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
