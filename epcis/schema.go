package epcis

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schema/EPCIS-JSON-Schema.json
var schemaJSON []byte

const schemaURL = "https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json"

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// compiled is GS1's schema, compiled once. Formats (uri, date-time) are
// asserted, not just annotated: an eventID that is not a URI is refused.
// The schema's patterns use look-ahead, which Go's regexp lacks, so they
// run on regexp2 in ECMAScript mode (the dialect JSON Schema specifies).
func compiled() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			schemaErr = fmt.Errorf("epcis schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		c.UseRegexpEngine(func(s string) (jsonschema.Regexp, error) {
			re, err := regexp2.Compile(s, regexp2.ECMAScript)
			if err != nil {
				return nil, err
			}
			return ecmaRegexp{re}, nil
		})
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = fmt.Errorf("epcis schema: %w", err)
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
		if schemaErr != nil {
			schemaErr = fmt.Errorf("epcis schema: %w", schemaErr)
		}
	})
	return schema, schemaErr
}

type ecmaRegexp struct{ re *regexp2.Regexp }

func (r ecmaRegexp) MatchString(s string) bool {
	ok, err := r.re.MatchString(s)
	return err == nil && ok
}

func (r ecmaRegexp) String() string { return r.re.String() }

// Validate checks a JSON document (an EPCISDocument or a single event)
// against GS1's EPCIS 2.0 JSON Schema. The error lists each violation as
// "<JSON pointer>: <reason>".
func Validate(data []byte) error {
	sch, err := compiled()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &SchemaError{Problems: []string{"not valid JSON"}}
	}
	if err := sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return &SchemaError{Problems: leaves(ve)}
		}
		return err
	}
	return nil
}

// SchemaError is a document the EPCIS 2.0 schema refuses.
type SchemaError struct{ Problems []string }

func (e *SchemaError) Error() string {
	return "not a valid EPCIS 2.0 document: " + strings.Join(e.Problems, "; ")
}

var english = message.NewPrinter(language.English)

// leaves flattens the validator's tree to its innermost causes, the ones
// that say what is wrong where, at most 20.
func leaves(ve *jsonschema.ValidationError) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			msg := "/" + strings.Join(e.InstanceLocation, "/") + ": " + e.ErrorKind.LocalizedString(english)
			if !seen[msg] {
				seen[msg] = true
				out = append(out, msg)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("and %d more", len(out)-20))
	}
	return out
}
