package shipment

import (
	"fmt"
	"testing"
)

func TestErrorRendersCodeAndMessage(t *testing.T) {
	e := Errorf(NotFound, "shipment %s does not exist", "X1")
	if got, want := e.Error(), "NOT_FOUND: shipment X1 does not exist"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestErrorCodeFindsWrappedError(t *testing.T) {
	err := fmt.Errorf("submit: %w", Errorf(Conflict, "already shipped"))
	if got := ErrorCode(err); got != Conflict {
		t.Fatalf("ErrorCode = %q, want CONFLICT", got)
	}
	if got := ErrorCode(fmt.Errorf("disk full")); got != "" {
		t.Fatalf("ErrorCode of internal error = %q, want empty", got)
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ok      bool
		code    Code
		message string
	}{
		{"bare", "FORBIDDEN: only the buyer may do this", true, Forbidden, "only the buyer may do this"},
		{"peer wrapped", "chaincode response 500, NOT_FOUND: shipment X does not exist", true, NotFound, "shipment X does not exist"},
		{"grpc wrapped", "rpc error: code = Aborted desc = failed to endorse transaction: ProposalResponsePayloads do not match; details: [address=peer0 message=chaincode response 500, CONFLICT: Ship of shipment A: status is SHIPPED]",
			true, Conflict, "Ship of shipment A: status is SHIPPED]"},
		{"earliest code wins", "INVALID: id: must be 3 to 64 characters; FORBIDDEN: x", true, Invalid, "id: must be 3 to 64 characters; FORBIDDEN: x"},
		{"code inside a word is not a code", "XINVALID: nope", false, "", ""},
		{"code after underscore is not a code", "NOT_INVALID: nope", false, "", ""},
		{"code later in text after a false match", "MY_CONFLICT: a, then CONFLICT: b", true, Conflict, "b"},
		{"lower case is not a code", "invalid: nope", false, "", ""},
		{"no code", "connection refused", false, "", ""},
		{"empty", "", false, "", ""},
		{"code without message", "NOT_FOUND: ", true, NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := ParseError(tt.in)
			if ok != tt.ok {
				t.Fatalf("ParseError ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if e.Code != tt.code || e.Message != tt.message {
				t.Fatalf("ParseError = %q / %q, want %q / %q", e.Code, e.Message, tt.code, tt.message)
			}
		})
	}
}

func TestParseErrorRoundTripsEveryCode(t *testing.T) {
	for _, c := range codes {
		e := Errorf(c, "message with: colon")
		got, ok := ParseError("prefix " + e.Error())
		if !ok || *got != *e {
			t.Errorf("round trip of %s: got %+v, %v", c, got, ok)
		}
	}
}
