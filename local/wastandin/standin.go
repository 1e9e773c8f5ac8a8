// Package wastandin is a local stand-in for the WhatsApp Business Cloud API.
// It accepts template messages in exactly the shape Meta documents, answers
// malformed ones with Meta-shaped errors, records what it received, injects
// faults on demand (error codes, latency, hung requests, throttling) and
// posts signed status webhooks back, so the notifier can be tested end to
// end without credentials or network access.
package wastandin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/notifier/phone"
)

// Config sets up a stand-in.
type Config struct {
	// Token is the bearer token requests must carry.
	Token string
	// PhoneNumberID is the business phone number ID in the request path.
	PhoneNumberID string
	// DisplayPhoneNumber appears in webhook metadata.
	DisplayPhoneNumber string
	// AppSecret signs webhooks (X-Hub-Signature-256).
	AppSecret string
	// WebhookURL receives status and inbound webhooks; empty disables them.
	WebhookURL string
	// AutoStatuses are posted for every accepted message, in order
	// (e.g. sent, delivered, read), StatusDelay apart.
	AutoStatuses []string
	StatusDelay  time.Duration
	// WebhookRetryFor bounds how long an undelivered webhook is retried,
	// as Meta keeps retrying while the receiver is down. Default 10 min.
	WebhookRetryFor time.Duration
	// Templates is the registry of approved templates; nil means the
	// notifier's defaults (DefaultTemplates), so every test validates
	// names, languages, parameter counts and buttons.
	Templates map[string]TemplateSpec
	// AnyTemplate accepts any well-formed template message instead.
	AnyTemplate bool
	// WaIDs overrides the wa_id of single numbers (digits → wa_id); see WaID.
	WaIDs map[string]string
	// PairInterval and PairBurst model the business/consumer pair rate
	// limit: after PairBurst messages to one user, one per PairInterval,
	// else 131056. Zero PairInterval: no limit.
	PairInterval time.Duration
	PairBurst    int
	// Undeliverable numbers (digits) are answered with 131026.
	Undeliverable []string
	// Now is the stand-in's clock for the customer-service window
	// (default time.Now); tests move it to close the window.
	Now func() time.Time
	Log *slog.Logger
}

// Record is one request the stand-in received, accepted or not.
type Record struct {
	Seq          int             `json:"seq"`
	ReceivedAt   time.Time       `json:"receivedAt"`
	Accepted     bool            `json:"accepted"`
	HTTPStatus   int             `json:"httpStatus"`
	ErrorCode    int             `json:"errorCode,omitempty"`
	WAMID        string          `json:"wamid,omitempty"`
	To           string          `json:"to,omitempty"`   // the number as sent (digits)
	WaID         string          `json:"waId,omitempty"` // the account it reached (see WaID)
	Template     string          `json:"template,omitempty"`
	Type         string          `json:"type,omitempty"` // template, text or interactive
	Text         string          `json:"text,omitempty"` // a free-form message's text or interactive body
	Language     string          `json:"language,omitempty"`
	Components   []Component     `json:"components,omitempty"`
	CallbackData string          `json:"callbackData,omitempty"`
	Body         json.RawMessage `json:"body,omitempty"`
}

// Duration is a time.Duration that reads "250ms" or a number of
// nanoseconds from JSON.
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string or an integer.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		*d = Duration(v)
		return err
	}
	var n int64
	err := json.Unmarshal(b, &n)
	*d = Duration(n)
	return err
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Fault kinds.
const (
	// FaultError answers with a Meta error (Code, optional HTTPStatus).
	FaultError = "error"
	// FaultLatency delays the answer by Latency, then handles normally.
	FaultLatency = "latency"
	// FaultTimeout holds the request unanswered and unprocessed until the
	// client gives up: the message was not accepted.
	FaultTimeout = "timeout"
	// FaultLostAnswer accepts the message (it is recorded and webhooks are
	// posted) but never answers: the client cannot tell it was accepted.
	FaultLostAnswer = "lost_answer"
	// FaultFailedStatus accepts the message, then reports it "failed"
	// with Code in a status webhook, as Meta does for errors it finds
	// after accepting (e.g. 131000, 131026, 130472); no other status follows.
	FaultFailedStatus = "failed_status"
)

// Fault is one injected misbehaviour. It applies to the next Count
// matching requests, or to all of them for For after it was installed,
// or both (whichever ends first); with neither it applies once.
type Fault struct {
	Kind       string   `json:"kind"`
	Code       int      `json:"code,omitempty"`
	HTTPStatus int      `json:"httpStatus,omitempty"`
	Count      int      `json:"count,omitempty"`
	For        Duration `json:"for,omitempty"`
	Latency    Duration `json:"latency,omitempty"`
	// To limits the fault to one recipient (digits).
	To string `json:"to,omitempty"`

	until time.Time
	left  int
}

// Server is the stand-in. Use Handler to serve it.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	pairs *pairLimiter

	mu       sync.Mutex
	seq      int
	records  []Record
	faults   []*Fault
	statuses map[string]statusTarget // wamid → recipient and callback data
	// lastInbound is each user's (wa_id's) last message to us: it opens
	// the 24-hour window for free-form messages.
	lastInbound map[string]time.Time
	media       map[string]mediaObject

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client
}

type statusTarget struct {
	to           string
	callbackData string
}

// New returns a stand-in. Call Close to stop its webhook deliveries.
func New(cfg Config) *Server {
	if cfg.Token == "" {
		cfg.Token = "standin-token"
	}
	if cfg.PhoneNumberID == "" {
		cfg.PhoneNumberID = "100000000000001"
	}
	if cfg.DisplayPhoneNumber == "" {
		cfg.DisplayPhoneNumber = "15550000001"
	}
	if cfg.WebhookRetryFor == 0 {
		cfg.WebhookRetryFor = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Templates == nil && !cfg.AnyTemplate {
		cfg.Templates = DefaultTemplates()
	}
	if cfg.AnyTemplate {
		cfg.Templates = nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		pairs: newPairLimiter(cfg.PairBurst, cfg.PairInterval),
		cfg:   cfg, log: cfg.Log, mux: http.NewServeMux(),
		statuses: map[string]statusTarget{}, lastInbound: map[string]time.Time{}, media: map[string]mediaObject{},
		ctx: ctx, cancel: cancel,
		client: &http.Client{Timeout: 5 * time.Second},
	}
	s.mux.HandleFunc("/{version}/{phoneID}/messages", s.handleMessages)
	s.mux.HandleFunc("GET /_standin/messages", s.handleList)
	s.mux.HandleFunc("DELETE /_standin/messages", s.handleReset)
	s.mux.HandleFunc("POST /_standin/reset", s.handleReset)
	s.mux.HandleFunc("GET /_standin/faults", s.handleListFaults)
	s.mux.HandleFunc("POST /_standin/faults", s.handleAddFault)
	s.mux.HandleFunc("DELETE /_standin/faults", s.handleClearFaults)
	s.mux.HandleFunc("POST /_standin/status", s.handlePostStatus)
	s.mux.HandleFunc("POST /_standin/inbound", s.handlePostInbound)
	s.mux.HandleFunc("POST /_standin/media", s.handleUploadMedia)
	s.mux.HandleFunc("GET /{version}/{mediaID}", s.handleMediaInfo)
	s.mux.HandleFunc("GET /_media/{id}", s.handleMediaDownload)
	s.mux.HandleFunc("GET /_standin/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return s
}

// SetWebhookURL changes where webhooks go, for receivers whose address is
// known only after the stand-in started.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.WebhookURL = u
}

func (s *Server) webhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.WebhookURL
}

// Handler serves the Cloud API path and the /_standin control endpoints.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops pending webhook deliveries and waits for them.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Messages returns every request received since the last reset.
func (s *Server) Messages() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// Accepted returns the accepted messages since the last reset.
func (s *Server) Accepted() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records {
		if r.Accepted {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the record and all faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = nil
	s.faults = nil
}

// AddFault installs a fault.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addFaultLocked(f)
}

func (s *Server) addFaultLocked(f Fault) {
	if f.For > 0 {
		f.until = time.Now().Add(time.Duration(f.For))
	}
	f.left = f.Count
	if f.Count == 0 && f.For == 0 {
		f.left = 1
	}
	f.To = digits(f.To)
	s.faults = append(s.faults, &f)
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the first active fault matching to, consuming one use.
func (s *Server) takeFault(to string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	live := s.faults[:0]
	var hit *Fault
	for _, f := range s.faults {
		counted := f.Count > 0 || f.For == 0
		if (!f.until.IsZero() && now.After(f.until)) || (counted && f.left <= 0) {
			continue
		}
		if hit == nil && (f.To == "" || f.To == to) {
			c := *f
			hit = &c
			if counted {
				f.left--
			}
		}
		if counted && f.left <= 0 {
			continue
		}
		live = append(live, f)
	}
	s.faults = live
	return hit
}

func (s *Server) record(r Record) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	r.Seq = s.seq
	s.records = append(s.records, r)
	return r
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	fail := func(e *APIError) {
		s.record(Record{ReceivedAt: now, HTTPStatus: e.HTTPStatus, ErrorCode: e.Code, Body: jsonOrNil(raw)})
		writeError(w, e)
	}
	if r.Method != http.MethodPost {
		fail(&APIError{HTTPStatus: 400, Code: 100, Type: "GraphMethodException", Message: "Unsupported get request."})
		return
	}
	if !versionRe.MatchString(r.PathValue("version")) {
		fail(&APIError{HTTPStatus: 400, Code: 2500, Type: "IGApiException", Message: "Unknown path components: /" + r.PathValue("version")})
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") || strings.TrimPrefix(auth, "Bearer ") != s.cfg.Token {
		fail(NewError(190, "the access token is missing, malformed or expired"))
		return
	}
	if id := r.PathValue("phoneID"); id != s.cfg.PhoneNumberID {
		// Meta answers an unknown phone number ID with code 100, subcode 33.
		fail(&APIError{HTTPStatus: 400, Code: 100, Subcode: 33, Type: "GraphMethodException",
			Message: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id)})
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		fail(&APIError{HTTPStatus: 400, Code: 100, Message: "(#100) Invalid parameter", Details: "Content-Type must be application/json"})
		return
	}
	req, apiErr := parseRequest(raw, s.cfg.Templates)
	if apiErr != nil {
		fail(apiErr)
		return
	}
	to := digits(req.To)
	if req.Type != "template" && !s.inWindow(s.WaID(to), s.cfg.Now()) {
		e := NewError(131047, "More than 24 hours have passed since the recipient last replied to the sender number.")
		s.record(Record{ReceivedAt: now, HTTPStatus: e.HTTPStatus, ErrorCode: e.Code, To: to, Type: req.Type, Body: jsonOrNil(raw)})
		writeError(w, e)
		return
	}
	if req.Template == nil {
		req.Template = &Template{Language: &struct {
			Code   string `json:"code"`
			Policy string `json:"policy,omitempty"`
		}{}}
	}

	f := s.takeFault(to)
	if f != nil {
		switch f.Kind {
		case FaultLatency:
			select {
			case <-time.After(time.Duration(f.Latency)):
			case <-r.Context().Done():
				return
			}
		case FaultTimeout:
			s.record(Record{ReceivedAt: now, HTTPStatus: 0, To: to, Template: req.Template.Name, CallbackData: req.BizOpaqueCallbackData})
			<-r.Context().Done()
			return
		case FaultError:
			e := NewError(f.Code, "injected fault")
			if f.HTTPStatus != 0 {
				e.HTTPStatus = f.HTTPStatus
			}
			s.record(Record{ReceivedAt: now, HTTPStatus: e.HTTPStatus, ErrorCode: e.Code, To: to, Template: req.Template.Name, CallbackData: req.BizOpaqueCallbackData})
			writeError(w, e)
			return
		}
	}
	waID := s.WaID(to)
	if !s.pairs.allow(waID, now) {
		e := NewError(131056, "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.")
		s.record(Record{ReceivedAt: now, HTTPStatus: e.HTTPStatus, ErrorCode: e.Code, To: to, WaID: waID, Template: req.Template.Name, CallbackData: req.BizOpaqueCallbackData})
		writeError(w, e)
		return
	}
	if contains(s.cfg.Undeliverable, to) {
		e := NewError(131026, "the recipient cannot receive this message")
		s.record(Record{ReceivedAt: now, HTTPStatus: e.HTTPStatus, ErrorCode: e.Code, To: to, Template: req.Template.Name, CallbackData: req.BizOpaqueCallbackData})
		writeError(w, e)
		return
	}

	wamid := newWAMID()
	s.record(Record{
		ReceivedAt: now, Accepted: true, HTTPStatus: http.StatusOK, WAMID: wamid, To: to, WaID: waID,
		Template: req.Template.Name, Language: req.Template.Language.Code,
		Components: req.Template.Components, CallbackData: req.BizOpaqueCallbackData,
		Type: req.Type, Text: req.freeForm.text(), Body: freeFormBody(req.Type, raw),
	})
	s.mu.Lock()
	s.statuses[wamid] = statusTarget{to: waID, callbackData: req.BizOpaqueCallbackData}
	s.mu.Unlock()
	if f != nil && f.Kind == FaultFailedStatus && s.webhookURL() != "" {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			body := StatusPayload(s.cfg.PhoneNumberID, s.cfg.DisplayPhoneNumber, wamid, "failed", waID, req.BizOpaqueCallbackData, f.Code)
			if err := s.deliver(s.ctx, body); err != nil {
				s.log.Warn("failed status webhook not delivered", slog.String("wamid", wamid), slog.Any("error", err))
			}
		}()
	} else if s.webhookURL() != "" && len(s.cfg.AutoStatuses) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for _, st := range s.cfg.AutoStatuses {
				if s.cfg.StatusDelay > 0 {
					select {
					case <-time.After(s.cfg.StatusDelay):
					case <-s.ctx.Done():
						return
					}
				}
				body := StatusPayload(s.cfg.PhoneNumberID, s.cfg.DisplayPhoneNumber, wamid, st, waID, req.BizOpaqueCallbackData, 0)
				if err := s.deliver(s.ctx, body); err != nil {
					s.log.Warn("status webhook not delivered", slog.String("wamid", wamid), slog.Any("error", err))
					return
				}
			}
		}()
	}
	if f != nil && f.Kind == FaultLostAnswer {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.To, "wa_id": waID}},
		"messages":          []map[string]string{{"id": wamid}},
	})
}

// PostStatus posts a signed status webhook for a message the stand-in
// accepted; errorCode is used with status "failed".
func (s *Server) PostStatus(ctx context.Context, wamid, status string, errorCode int) error {
	s.mu.Lock()
	t, ok := s.statuses[wamid]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("unknown wamid %s", wamid)
	}
	return s.deliver(ctx, StatusPayload(s.cfg.PhoneNumberID, s.cfg.DisplayPhoneNumber, wamid, status, t.to, t.callbackData, errorCode))
}

// PostInbound posts a signed webhook for a text the user sent.
// from is the user's number; the webhook carries its wa_id, as Meta's does.
func (s *Server) PostInbound(ctx context.Context, from, text string) error {
	_, err := s.PostInboundMessage(ctx, Inbound{From: from, Text: text})
	return err
}

// deliver posts body to the webhook URL, retrying with backoff while the
// receiver is down or answers non-2xx, as Meta does.
func (s *Server) deliver(ctx context.Context, body []byte) error {
	target := s.webhookURL()
	if target == "" {
		return fmt.Errorf("no webhook URL configured")
	}
	deadline := time.Now().Add(s.cfg.WebhookRetryFor)
	wait := 50 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", Sign(s.cfg.AppSecret, body))
		resp, err := s.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("webhook answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up delivering webhook: %w", err)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(wait*2, 2*time.Second)
	}
}

// Sign returns the X-Hub-Signature-256 value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// StatusPayload builds a Cloud API status webhook body.
func StatusPayload(phoneNumberID, display, wamid, status, recipient, callbackData string, errorCode int) []byte {
	st := map[string]any{
		"id":           wamid,
		"status":       status,
		"timestamp":    fmt.Sprint(time.Now().Unix()),
		"recipient_id": recipient,
	}
	if callbackData != "" {
		st["biz_opaque_callback_data"] = callbackData
	}
	if status == "sent" || status == "delivered" {
		st["pricing"] = map[string]any{"billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility"}
	}
	if status == "failed" {
		if errorCode == 0 {
			errorCode = 131026
		}
		e := NewError(errorCode, "reported by status webhook")
		st["errors"] = []map[string]any{{
			"code": errorCode, "title": titles[errorCode], "message": titles[errorCode],
			"error_data": map[string]any{"details": e.Details},
		}}
	}
	return envelope(phoneNumberID, display, map[string]any{"statuses": []any{st}})
}

// InboundTextPayload builds a Cloud API webhook body for a user's text.
func InboundTextPayload(phoneNumberID, display, from, text string) []byte {
	return envelope(phoneNumberID, display, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": "Stand-in user"}, "wa_id": from}},
		"messages": []any{map[string]any{
			"from": from, "id": newWAMID(), "timestamp": fmt.Sprint(time.Now().Unix()),
			"type": "text", "text": map[string]any{"body": text},
		}},
	})
}

func envelope(phoneNumberID, display string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]any{"display_phone_number": display, "phone_number_id": phoneNumberID}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{
			"id":      "102290129340398",
			"changes": []any{map[string]any{"value": value, "field": "messages"}},
		}},
	})
	return b
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	recs := s.Messages()
	if r.URL.Query().Get("accepted") == "true" {
		recs = s.Accepted()
	}
	if recs == nil {
		recs = []Record{}
	}
	writeJSON(w, http.StatusOK, recs)
}

func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleListFaults(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, *f)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
		http.Error(w, "fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch f.Kind {
	case FaultError:
		if f.Code == 0 {
			http.Error(w, "fault: error needs a code", http.StatusBadRequest)
			return
		}
	case FaultLatency:
		if f.Latency <= 0 {
			http.Error(w, "fault: latency needs a positive latency", http.StatusBadRequest)
			return
		}
	case FaultTimeout, FaultLostAnswer:
	case FaultFailedStatus:
		if f.Code == 0 {
			http.Error(w, "fault: failed_status needs a code", http.StatusBadRequest)
			return
		}
	default:
		http.Error(w, "fault: kind must be error, latency, timeout, lost_answer or failed_status", http.StatusBadRequest)
		return
	}
	s.AddFault(f)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePostStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		WAMID     string `json:"wamid"`
		Status    string `json:"status"`
		ErrorCode int    `json:"errorCode"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.WAMID == "" || in.Status == "" {
		http.Error(w, "status: need wamid and status", http.StatusBadRequest)
		return
	}
	if err := s.PostStatus(r.Context(), in.WAMID, in.Status, in.ErrorCode); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePostInbound(w http.ResponseWriter, r *http.Request) {
	var in Inbound
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.From == "" {
		http.Error(w, "inbound: need from and one of text, buttonPayload, replyId, mediaId", http.StatusBadRequest)
		return
	}
	if _, err := s.PostInboundMessage(r.Context(), in); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeError(w http.ResponseWriter, e *APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.HTTPStatus)
	_, _ = w.Write(e.body(newTraceID()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonOrNil(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	return nil
}

// digits reduces a number to the digits WhatsApp uses for wa_id.
func digits(s string) string { return phone.Digits(s) }

func newWAMID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return "wamid." + base64.StdEncoding.EncodeToString(b[:])
}

func newTraceID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
