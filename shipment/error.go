package shipment

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies a refusal so that clients (gateway, notifier) can branch on it
// without matching on wording. The set is closed: anything else is internal.
type Code string

// The refusal codes. They travel inside the peer's error text, so they are
// short, upper case and stable.
const (
	Invalid   Code = "INVALID"   // bad input; the caller must change the request
	NotFound  Code = "NOT_FOUND" // no such shipment (or contact)
	Forbidden Code = "FORBIDDEN" // the caller's organisation or role may not do this
	Conflict  Code = "CONFLICT"  // wrong state for the operation, or a duplicate
)

var codes = []Code{Invalid, NotFound, Forbidden, Conflict}

// Error is a refusal by the domain rules. Its text, "CODE: message", is what the
// chaincode returns to the peer, so it must never carry personal data.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or "" when err
// is not a domain refusal (an internal error).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ParseError recovers a refusal from text that contains one, such as the peer's
// "chaincode response 500, NOT_FOUND: shipment X does not exist" or a gRPC
// status message that wraps it. The earliest "CODE: " that starts a word wins;
// the message is the rest of the text.
func ParseError(s string) (*Error, bool) {
	best, bestCode := -1, Code("")
	for _, c := range codes {
		needle := string(c) + ": "
		from := 0
		for {
			i := strings.Index(s[from:], needle)
			if i < 0 {
				break
			}
			i += from
			if i == 0 || !isCodeRune(s[i-1]) {
				if best < 0 || i < best {
					best, bestCode = i, c
				}
				break
			}
			from = i + 1
		}
	}
	if best < 0 {
		return nil, false
	}
	msg := s[best+len(bestCode)+2:]
	return &Error{Code: bestCode, Message: msg}, true
}

func isCodeRune(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_'
}
