package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/epcis"
	"github.com/shiptrace/shiptrace/shipment/plots"
)

// readBody reads the whole body once, within the size limit, and refuses
// what is not UTF-8 JSON before anything parses it: encoding/json would
// silently replace invalid UTF-8.
func (s *Server) readBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Method == http.MethodGet {
			return next(c)
		}
		ct := req.Header.Get(echo.HeaderContentType)
		mt, params, ctErr := mime.ParseMediaType(ct)
		csvFile := ctErr == nil && mt == mimeCSV && c.Path() == csvRoute
		limit := s.maxBody
		tooLarge := tooLarge
		if csvFile {
			limit = s.csv.MaxBytes
		}
		if c.Path() == plotsRoute {
			limit, tooLarge = plots.MaxExportBytes, plotsTooLarge
		}
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return tooLarge(limit)
			}
			return badRequest("the request body could not be read")
		}
		if int64(len(body)) > limit {
			return tooLarge(limit)
		}
		if len(body) > 0 {
			if csvFile {
				if body, err = csvText(body, params["charset"]); err != nil {
					return err
				}
			} else if ctErr != nil || mt != echo.MIMEApplicationJSON && mt != epcis.MediaType {
				// JSON-LD (EPCIS documents) is JSON too; the OpenAPI
				// document says which operation takes which.
				detail := "send Content-Type: application/json"
				if c.Path() == csvRoute {
					detail += ", or text/csv for a logger's CSV file"
				}
				return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "The body must be JSON", detail)
			} else if !utf8.Valid(body) {
				return badRequest("the body is not valid UTF-8")
			}
		}
		c.Set(ctxBody, body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		return next(c)
	}
}

func tooLarge(limit int64) *Problem {
	return problem(http.StatusRequestEntityTooLarge, "too-large", "The body is too large",
		fmt.Sprintf("at most %d bytes", limit))
}

func bodyOf(c echo.Context) []byte {
	b, _ := c.Get(ctxBody).([]byte)
	return b
}

// validate checks the request against the OpenAPI document: the route echo
// matched names the operation, so no second router is needed.
func (s *Server) validate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		path := openapiPath(c.Path())
		item := s.doc.Paths.Value(path)
		if item == nil {
			return next(c)
		}
		op := item.GetOperation(req.Method)
		if op == nil {
			return next(c)
		}
		params := map[string]string{}
		for i, name := range c.ParamNames() {
			params[name] = c.ParamValues()[i]
		}
		body := bodyOf(c)
		if len(body) == 0 && req.Method != http.MethodGet {
			// An empty body is "no body": an optional request body is
			// then absent rather than malformed.
			req.Body = http.NoBody
			req.ContentLength = 0
		}
		in := &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      &routers.Route{Spec: s.doc, Path: path, PathItem: item, Method: req.Method, Operation: op},
			Options: &openapi3filter.Options{
				MultiError:         true,
				AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				// A CSV file is checked by loggercsv, line by line; the
				// OpenAPI filter's CSV decoder would refuse a logger's
				// preamble and say nothing of where.
				ExcludeRequestBody: isCSV(req),
			},
		}
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			return badRequest("the request does not match the OpenAPI document (GET /v1/openapi.json)", validationErrors(err)...)
		}
		if len(body) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		return next(c)
	}
}

// openapiPath turns echo's "/v1/shipments/:id" into "/v1/shipments/{id}".
func openapiPath(echoPath string) string {
	parts := strings.Split(echoPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// validationErrors lists each problem as "where: why", without echoing the
// offending values (they may be personal data).
func validationErrors(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var multi openapi3.MultiError
		if errors.As(err, &multi) {
			for _, e := range multi {
				walk(e)
			}
			return
		}
		var re *openapi3filter.RequestError
		if errors.As(err, &re) {
			where := "request"
			switch {
			case re.Parameter != nil:
				where = re.Parameter.In + " parameter " + re.Parameter.Name
			case re.RequestBody != nil:
				where = "body"
			}
			var multi openapi3.MultiError
			if errors.As(re.Err, &multi) {
				for _, e := range multi {
					out = append(out, where+schemaProblem(e, re.Reason))
				}
				return
			}
			out = append(out, where+schemaProblem(re.Err, re.Reason))
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			out = append(out, "body"+schemaProblem(se, ""))
			return
		}
		out = append(out, "request: does not match the document")
	}
	walk(err)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("and %d more", len(out)-20))
	}
	return out
}

func schemaProblem(err error, reason string) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		ptr := strings.Join(se.JSONPointer(), ".")
		if ptr != "" {
			ptr = "." + ptr
		}
		return ptr + ": " + se.Reason
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		return ": " + parseReason(pe)
	}
	if reason != "" {
		return ": " + reason
	}
	if err != nil {
		return ": " + safeReason(err)
	}
	return ": invalid"
}

func parseReason(pe *openapi3filter.ParseError) string {
	switch pe.Kind {
	case openapi3filter.KindInvalidFormat:
		return "not valid JSON"
	case openapi3filter.KindUnsupportedFormat:
		return "unsupported format"
	}
	return "cannot be parsed"
}

// safeReason keeps the part of a message before any quoted value.
func safeReason(err error) string {
	msg := err.Error()
	if i := strings.IndexAny(msg, "\"'"); i > 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
