package notifier

import (
	"errors"
	"fmt"
)

// ErrNoContact means the shipment has no buyer contact on record; the
// notification is skipped, not retried.
var ErrNoContact = errors.New("no buyer contact on record")

// ErrContactsUnavailable means the contact source itself cannot answer
// (the peer is down or times out): every lookup would fail alike, so the
// intake waits and retries the batch instead of setting events aside.
// Other lookup errors concern one shipment and set only its event aside.
var ErrContactsUnavailable = errors.New("contact source unavailable")

// FailureClass says what the sender should do about a failed send.
type FailureClass int

const (
	// Transient failures (timeouts, 5xx, throttling) are retried with backoff.
	Transient FailureClass = iota
	// Permanent failures (bad number, template problems, bad parameters)
	// mark the notification failed with the provider's code and message.
	Permanent
	// Paused failures (expired token, missing permission, account locked)
	// affect every message: sending stops until the operator fixes it.
	Paused
	// Uncertain failures happened after the request may have reached the
	// provider (a timeout while waiting for the answer): retrying at once
	// could send twice, so the sender first waits for a status webhook.
	Uncertain
	// Throttled failures (Meta's 130429, the number's throughput limit) are
	// retried like transient ones, and the sender lowers its global rate.
	Throttled
)

func (c FailureClass) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Paused:
		return "paused"
	case Uncertain:
		return "uncertain"
	case Throttled:
		return "throttled"
	}
	return "unknown"
}

// SendError is a failed send, classified. Providers return it so the sender
// can branch with errors.As without knowing the provider's error shape.
type SendError struct {
	Class      FailureClass
	Code       int    // provider error code, e.g. Meta's 131026
	Message    string // provider message, safe to store (no personal data)
	Details    string
	TraceID    string
	HTTPStatus int
	// Hint tells an operator what to do about an account-level error
	// (Paused), e.g. renew the token; empty for per-message errors.
	Hint string
	Err  error // underlying transport error, if any
}

func (e *SendError) Error() string {
	switch {
	case e.Code != 0:
		return fmt.Sprintf("send failed (%s, code %d, http %d): %s", e.Class, e.Code, e.HTTPStatus, e.Message)
	case e.Err != nil:
		return fmt.Sprintf("send failed (%s): %v", e.Class, e.Err)
	default:
		return fmt.Sprintf("send failed (%s, http %d): %s", e.Class, e.HTTPStatus, e.Message)
	}
}

func (e *SendError) Unwrap() error { return e.Err }

// ClassOf returns the failure class of err; errors that are not SendErrors
// count as transient, since the sender cannot tell they are anything else.
func ClassOf(err error) FailureClass {
	var se *SendError
	if errors.As(err, &se) {
		return se.Class
	}
	return Transient
}
