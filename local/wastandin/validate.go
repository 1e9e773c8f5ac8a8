package wastandin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// APIError is a Meta-shaped error answer with its HTTP status.
type APIError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string
	Details    string
}

func (e *APIError) Error() string { return fmt.Sprintf("(#%d) %s", e.Code, e.Message) }

// body renders Meta's error envelope.
func (e *APIError) body(traceID string) []byte {
	typ := e.Type
	if typ == "" {
		typ = "OAuthException"
	}
	obj := map[string]any{
		"message": e.Message,
		"type":    typ,
		"code":    e.Code,
		"error_data": map[string]any{
			"messaging_product": "whatsapp",
			"details":           e.Details,
		},
		"fbtrace_id": traceID,
	}
	if e.Subcode != 0 {
		obj["error_subcode"] = e.Subcode
	}
	b, _ := json.Marshal(map[string]any{"error": obj})
	return b
}

// StatusForCode is the HTTP status the stand-in answers a Meta error code
// with: 401 for token problems, 429 for throttling, 5xx for server trouble,
// 400 otherwise (Meta's own default for request problems).
func StatusForCode(code int) int {
	switch code {
	case 190:
		return http.StatusUnauthorized
	case 10, 200, 131005:
		return http.StatusForbidden
	case 4, 80007, 130429, 131056, 131048:
		return http.StatusTooManyRequests
	case 1, 131000:
		return http.StatusInternalServerError
	case 2, 131016, 133004:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// titles are Meta's error titles for the codes the stand-in produces.
var titles = map[int]string{
	1:      "An unknown error occurred",
	2:      "Service temporarily unavailable",
	4:      "Application request limit reached",
	10:     "Permission denied",
	100:    "Invalid parameter",
	190:    "Invalid OAuth access token - Cannot parse access token",
	80007:  "Rate limit issues",
	130429: "Rate limit hit",
	131000: "Something went wrong",
	131008: "Required parameter is missing",
	131009: "Parameter value is not valid",
	131016: "Service unavailable",
	131026: "Message undeliverable",
	131047: "Re-engagement message",
	131051: "Unsupported message type",
	131056: "(Business Account, Consumer Account) pair rate limit hit",
	132000: "Number of parameters does not match the expected number of params",
	132001: "Template name does not exist in the translation",
	132012: "Parameter format does not match format in the created template",
	133004: "Server temporarily unavailable",
}

// NewError returns a Meta-shaped error for code with its usual title.
func NewError(code int, details string) *APIError {
	t := titles[code]
	if t == "" {
		t = "Error"
	}
	return &APIError{HTTPStatus: StatusForCode(code), Code: code, Message: fmt.Sprintf("(#%d) %s", code, t), Details: details}
}

// TemplateSpec registers an approved template so the stand-in can answer
// 132001 for unknown names or languages and 132000 for a wrong body
// parameter count, as Meta does.
type TemplateSpec struct {
	Languages    []string     `json:"languages"`
	BodyParams   int          `json:"bodyParams"`
	HeaderParams int          `json:"headerParams,omitempty"`
	Buttons      []ButtonSpec `json:"buttons,omitempty"`
}

// Request is a template message request as the stand-in parsed it.
type Request struct {
	MessagingProduct      string          `json:"messaging_product"`
	RecipientType         string          `json:"recipient_type,omitempty"`
	To                    string          `json:"to"`
	Type                  string          `json:"type"`
	Template              *Template       `json:"template,omitempty"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Context               json.RawMessage `json:"context,omitempty"`

	// freeForm is the text or interactive part of a free-form message.
	freeForm freeForm
}

// Template is the template object of a Request.
type Template struct {
	Name     string `json:"name"`
	Language *struct {
		Code   string `json:"code"`
		Policy string `json:"policy,omitempty"`
	} `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Component is one template component.
type Component struct {
	Type       string            `json:"type"`
	SubType    string            `json:"sub_type,omitempty"`
	Index      json.RawMessage   `json:"index,omitempty"`
	Parameters []json.RawMessage `json:"parameters"`
}

var (
	phoneRe    = regexp.MustCompile(`^\+?[0-9]{7,15}$`)
	templateRe = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	versionRe  = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	langRe     = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)
)

var topLevelFields = map[string]bool{
	"messaging_product": true, "recipient_type": true, "to": true, "type": true,
	"template": true, "biz_opaque_callback_data": true, "context": true, "text": true, "interactive": true,
}

var paramTypes = map[string]bool{
	"text": true, "currency": true, "date_time": true, "image": true, "document": true,
	"video": true, "location": true, "payload": true, "action": true, "coupon_code": true,
}

// parseRequest validates a message body against the shape Meta documents
// for template messages and returns the parsed request or a Meta error.
func parseRequest(raw []byte, templates map[string]TemplateSpec) (*Request, *APIError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, &APIError{HTTPStatus: 400, Code: 100, Message: "(#100) Invalid parameter", Details: "request body is not a JSON object"}
	}
	for k := range fields {
		if !topLevelFields[k] {
			return nil, &APIError{HTTPStatus: 400, Code: 100, Message: "(#100) Param " + k + " is not a valid parameter", Details: "unexpected field " + k}
		}
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, &APIError{HTTPStatus: 400, Code: 100, Message: "(#100) Invalid parameter", Details: err.Error()}
	}
	missing := func(name string) *APIError {
		return &APIError{HTTPStatus: 400, Code: 100, Message: "(#100) The parameter " + name + " is required.", Details: name + " is required"}
	}
	invalid := func(name, why string) *APIError {
		return &APIError{HTTPStatus: 400, Code: 100, Message: "(#100) Invalid parameter", Details: name + ": " + why}
	}
	if req.MessagingProduct == "" {
		return nil, missing("messaging_product")
	}
	if req.MessagingProduct != "whatsapp" {
		return nil, invalid("messaging_product", "must be whatsapp")
	}
	if req.RecipientType != "" && req.RecipientType != "individual" {
		return nil, invalid("recipient_type", "must be individual")
	}
	if req.To == "" {
		return nil, missing("to")
	}
	if !phoneRe.MatchString(req.To) {
		return nil, invalid("to", "not a phone number")
	}
	switch req.Type {
	case "template":
	case "":
		return nil, missing("type")
	case "text", "interactive":
		// Free-form: validated here; the 24-hour window is the server's
		// to check (handleMessages), after the shape.
		f, e := validateFreeForm(req.Type, raw)
		if e != nil {
			return nil, e
		}
		req.freeForm = f
		return &req, nil
	case "image", "document", "audio", "video", "location", "contacts", "reaction", "sticker":
		return nil, NewError(131051, "message type "+req.Type+" is not supported by the stand-in")
	default:
		return nil, NewError(131051, "message type "+req.Type+" is not supported")
	}
	t := req.Template
	if t == nil {
		return nil, missing("template")
	}
	if t.Name == "" {
		return nil, missing("template.name")
	}
	if !templateRe.MatchString(t.Name) {
		return nil, invalid("template.name", "lower-case letters, digits and underscores only")
	}
	if t.Language == nil || t.Language.Code == "" {
		return nil, missing("template.language.code")
	}
	if !langRe.MatchString(t.Language.Code) {
		return nil, invalid("template.language.code", "not a supported language code")
	}
	if t.Language.Policy != "" && t.Language.Policy != "deterministic" {
		return nil, invalid("template.language.policy", "must be deterministic")
	}
	bodyParams, headerParams := 0, 0
	for i, c := range t.Components {
		where := fmt.Sprintf("template.components[%d]", i)
		switch strings.ToLower(c.Type) {
		case "header", "body":
		case "button":
			switch c.SubType {
			case "quick_reply", "url", "copy_code", "flow", "catalog", "voice_call":
			case "":
				return nil, NewError(131008, where+".sub_type is required for buttons")
			default:
				return nil, NewError(131009, where+".sub_type "+c.SubType+" is not valid")
			}
			if len(c.Index) == 0 {
				return nil, NewError(131008, where+".index is required for buttons")
			}
			if !validIndex(c.Index) {
				return nil, NewError(131009, where+".index must be 0..9")
			}
		case "":
			return nil, NewError(131008, where+".type is required")
		default:
			return nil, NewError(131009, where+".type "+c.Type+" is not valid")
		}
		if c.Parameters == nil {
			return nil, NewError(131008, where+".parameters is required")
		}
		for j, p := range c.Parameters {
			if err := validParam(p, fmt.Sprintf("%s.parameters[%d]", where, j)); err != nil {
				return nil, err
			}
		}
		if strings.EqualFold(c.Type, "body") {
			bodyParams += len(c.Parameters)
		}
		if strings.EqualFold(c.Type, "header") {
			headerParams += len(c.Parameters)
		}
	}
	if templates != nil {
		spec, ok := templates[t.Name]
		if !ok || !contains(spec.Languages, t.Language.Code) {
			return nil, NewError(132001, fmt.Sprintf("template name (%s) does not exist in %s", t.Name, t.Language.Code))
		}
		if bodyParams != spec.BodyParams {
			return nil, NewError(132000, fmt.Sprintf("body: number of localizable_params (%d) does not match the expected number of params (%d)", bodyParams, spec.BodyParams))
		}
		if headerParams != spec.HeaderParams {
			return nil, NewError(132000, fmt.Sprintf("header: number of localizable_params (%d) does not match the expected number of params (%d)", headerParams, spec.HeaderParams))
		}
		if err := checkButtons(t.Name, spec, t.Components); err != nil {
			return nil, err
		}
	}
	return &req, nil
}

// indexOf reads a button index given as "0" or 0.
func indexOf(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n int
		_ = json.Unmarshal(raw, &n)
		return n
	}
	n, _ := strconv.Atoi(s)
	return n
}

// paramType is a parameter's "type".
func paramType(raw json.RawMessage) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &p)
	return p.Type
}

func validIndex(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n int
		if json.Unmarshal(raw, &n) != nil {
			return false
		}
		s = strconv.Itoa(n)
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 9
}

func validParam(raw json.RawMessage, where string) *APIError {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil {
		return NewError(131009, where+" must be an object")
	}
	var typ string
	if err := json.Unmarshal(p["type"], &typ); err != nil || typ == "" {
		return NewError(131008, where+".type is required")
	}
	if !paramTypes[typ] {
		return NewError(131009, where+".type "+typ+" is not valid")
	}
	if typ == "text" || typ == "payload" {
		var v string
		if err := json.Unmarshal(p[typ], &v); err != nil {
			return NewError(131008, where+"."+typ+" is required")
		}
		if strings.TrimSpace(v) == "" {
			return NewError(131009, where+"."+typ+" must not be empty")
		}
		if strings.ContainsAny(v, "\n\t") || strings.Contains(v, "    ") {
			return NewError(132012, where+"."+typ+" must not contain new lines, tabs or more than 4 spaces")
		}
	} else if _, ok := p[typ]; !ok {
		return NewError(131008, where+"."+typ+" is required")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
