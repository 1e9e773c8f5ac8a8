package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/shiptrace/shiptrace/notifier"
)

// Cloud API error codes, as Meta documents them at
// https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
// and https://developers.facebook.com/docs/graph-api/guides/error-handling.
// The table of what the notifier does with each is in notifier/README.md
// ("WhatsApp errors").

// ParseError turns a non-2xx answer into a classified SendError. Only an
// error object with a code is Meta's answer; anything else (a proxy's HTML
// 502, an error object without a code) is classified by HTTP status, and a
// 5xx of that kind is Uncertain: the proxy may have passed the request to
// WhatsApp and lost its answer.
func ParseError(status int, body []byte) *notifier.SendError {
	var eb ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == nil {
		se := &notifier.SendError{Class: notifier.Permanent, HTTPStatus: status, Message: http.StatusText(status)}
		if eb.Error.Message != "" {
			se.Message = eb.Error.Message
		}
		switch {
		case status >= 500:
			se.Class = notifier.Uncertain
		case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
			se.Class = notifier.Transient
		case status == http.StatusUnauthorized:
			se.Class, se.Hint = notifier.Paused, "the provider refused our credentials: check provider.token or provider.token_file"
		}
		return se
	}
	e := eb.Error
	return &notifier.SendError{
		Class:      ClassifyError(*e.Code, e.ErrorSubcode, status),
		Code:       *e.Code,
		Message:    e.Message,
		Details:    e.ErrorData.Details,
		TraceID:    e.FBTraceID,
		HTTPStatus: status,
		Hint:       Hint(*e.Code, e.ErrorSubcode),
	}
}

// Classify maps a Cloud API error code to what the sender does about it.
func Classify(code, status int) notifier.FailureClass { return ClassifyError(code, 0, status) }

// ClassifyError maps a Cloud API error code and subcode to what the sender
// does about it. Unknown codes fall back to the HTTP status (5xx retried,
// 4xx permanent, 401 pauses).
func ClassifyError(code, subcode, status int) notifier.FailureClass {
	if Hint(code, subcode) != "" {
		return notifier.Paused
	}
	switch code {
	case 130429: // throughput rate limit of the number
		return notifier.Throttled
	// Temporary trouble on Meta's side or a limit on this message: retry.
	case 1, // API unknown
		2,      // API service temporarily unavailable
		4,      // API too many calls
		17,     // user request limit
		341,    // application limit
		80007,  // WABA rate limit
		131000, // something went wrong
		131016, // service unavailable
		131056, // business/consumer pair rate limit: only this recipient
		133004: // server temporarily unavailable
		return notifier.Transient
	// The message itself is wrong or cannot be delivered: do not retry.
	case 100, // invalid parameter (subcode 33 is account-level, above)
		131008,         // required parameter missing
		131009,         // parameter value invalid
		131021,         // recipient cannot be sender
		131026,         // message undeliverable
		131030,         // recipient not in allowed list
		131047,         // re-engagement message (outside 24 h window)
		131049,         // Meta chose not to deliver (marketing limit)
		131051,         // unsupported message type
		131052, 131053, // media problems
		132000,         // parameter count mismatch
		132001,         // template does not exist in that language
		132005,         // translated text too long
		132007,         // format character policy violated
		132012,         // parameter format mismatch
		132015,         // template paused
		132016,         // template disabled
		132068, 132069, // flow problems
		470: // re-engagement (legacy)
		return notifier.Permanent
	}
	if status == http.StatusUnauthorized {
		return notifier.Paused
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return notifier.Transient
	}
	return notifier.Permanent
}

// Hint says what an operator must do about an account-level error, one
// that stops every message of the business number; "" for any other code.
// The sender pauses on these and logs the hint.
func Hint(code, subcode int) string {
	switch {
	case code == 190:
		return "the access token expired or is invalid: renew it (provider.token or provider.token_file)"
	case code == 0:
		return "Meta could not authenticate the app user (AuthException): renew the access token"
	case code == 3 || code == 10 || code == 131005 || (code >= 200 && code <= 299):
		return "the token lacks a permission (whatsapp_business_messaging): grant it to the system user and renew the token"
	case code == 100 && subcode == 33:
		return "the phone number ID does not exist or this token cannot use it: check provider.phone_number_id"
	case code == 133010:
		return "the business phone number is not registered with the Cloud API: register it (POST /{phone-number-id}/register)"
	case code == 131057:
		return "the business account is in maintenance mode: wait for Meta, sending resumes by itself"
	case code == 131048:
		return "WhatsApp limits this number for spam (quality rating): review template quality and opt-outs in WhatsApp Manager"
	case code == 131031:
		return "the business account is locked: see Business Support in WhatsApp Manager"
	case code == 131042:
		return "a payment problem on the business account: fix the payment method in WhatsApp Manager"
	case code == 368:
		return "the account is temporarily blocked for policy violations: see the Account Quality page"
	}
	return ""
}

// transportError classifies an HTTP client error. A failure to connect means
// the request never left; anything later (a timeout waiting for the answer)
// may have been accepted by Meta, so it is Uncertain.
func transportError(err error) *notifier.SendError {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &notifier.SendError{Class: notifier.Transient, Message: "connect", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &notifier.SendError{Class: notifier.Uncertain, Message: "cancelled", Err: err}
	}
	return &notifier.SendError{Class: notifier.Uncertain, Message: "no answer", Err: err}
}
