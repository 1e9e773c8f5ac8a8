package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// decodeJSON parses a body strictly: one JSON value, no unknown fields, no
// trailing data. Its messages name the field, never the value.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not valid JSON for this operation", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("the body is not valid JSON for this operation", "unexpected data after the JSON value")
	}
	return nil
}

func jsonProblem(err error) string {
	var (
		typ    *json.UnmarshalTypeError
		syntax *json.SyntaxError
		perr   *time.ParseError
	)
	switch {
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("the body must be a JSON %s", typ.Type)
		}
		return fmt.Sprintf("%s: must be a %s", typ.Field, typ.Type)
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &perr):
		return "a time is not RFC 3339"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends early"
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + rest
	}
	if strings.Contains(msg, "parsing time") {
		return "a time is not RFC 3339"
	}
	return "malformed JSON"
}
