// Package whatsapp is the WhatsApp Business Cloud API provider: it sends
// template messages through the Graph API and turns Meta's error answers
// into classified notifier.SendErrors.
package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
)

// TokenFunc returns the current access token. It is a function so a token
// rotated on disk is picked up without a restart.
type TokenFunc func() (string, error)

// Client sends template messages to POST {baseURL}/{version}/{phoneNumberID}/messages.
type Client struct {
	baseURL       string
	version       string
	phoneNumberID string
	token         TokenFunc
	http          *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client (10 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a Cloud API client. baseURL is e.g. https://graph.facebook.com
// or the local stand-in; version is e.g. v23.0.
func New(baseURL, version, phoneNumberID string, token TokenFunc, opts ...Option) *Client {
	c := &Client{
		baseURL:       strings.TrimRight(baseURL, "/"),
		version:       version,
		phoneNumberID: phoneNumberID,
		token:         token,
		http: &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				MaxIdleConns:        256,
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     90 * time.Second,
			},
		},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SendRequest is the Cloud API's message body for a template message.
type SendRequest struct {
	MessagingProduct      string          `json:"messaging_product"`
	RecipientType         string          `json:"recipient_type,omitempty"`
	To                    string          `json:"to"`
	Type                  string          `json:"type"`
	Template              TemplatePayload `json:"template"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
}

// TemplatePayload is the "template" object of a SendRequest.
type TemplatePayload struct {
	Name       string               `json:"name"`
	Language   Language             `json:"language"`
	Components []notifier.Component `json:"components,omitempty"`
}

// Language is the template language object.
type Language struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// SendResponse is the Cloud API's answer to an accepted message.
type SendResponse struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status,omitempty"`
	} `json:"messages"`
}

// ErrorBody is Meta's error envelope.
type ErrorBody struct {
	Error APIError `json:"error"`
}

// APIError is the "error" object of a Graph API error response.
type APIError struct {
	Message      string `json:"message"`
	Type         string `json:"type"`
	Code         *int   `json:"code"` // nil when the body has none (not Meta's answer)
	ErrorSubcode int    `json:"error_subcode,omitempty"`
	FBTraceID    string `json:"fbtrace_id,omitempty"`
	ErrorData    struct {
		MessagingProduct string `json:"messaging_product,omitempty"`
		Details          string `json:"details,omitempty"`
	} `json:"error_data"`
}

// NewSendRequest builds the Cloud API body for msg.
func NewSendRequest(msg notifier.Message) SendRequest {
	return SendRequest{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               notifier.NormalizePhone(msg.To),
		Type:             "template",
		Template: TemplatePayload{
			Name:       msg.Template,
			Language:   Language{Code: msg.Language, Policy: "deterministic"},
			Components: msg.Components,
		},
		BizOpaqueCallbackData: msg.CallbackData,
	}
}

// Send posts one template message and returns its wamid.
func (c *Client) Send(ctx context.Context, msg notifier.Message) (notifier.SendResult, error) {
	token, err := c.token()
	if err != nil {
		return notifier.SendResult{}, &notifier.SendError{Class: notifier.Paused, Message: "access token unavailable", Err: err}
	}
	body, err := json.Marshal(NewSendRequest(msg))
	if err != nil {
		return notifier.SendResult{}, &notifier.SendError{Class: notifier.Permanent, Message: "encode request", Err: err}
	}
	url := fmt.Sprintf("%s/%s/%s/messages", c.baseURL, c.version, c.phoneNumberID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return notifier.SendResult{}, &notifier.SendError{Class: notifier.Permanent, Message: "build request", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)

	resp, err := c.http.Do(req)
	if err != nil {
		return notifier.SendResult{}, transportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		// The provider answered but we lost the body: it may have accepted.
		return notifier.SendResult{}, &notifier.SendError{Class: notifier.Uncertain, HTTPStatus: resp.StatusCode, Message: "read response", Err: err}
	}
	if resp.StatusCode/100 == 2 {
		var sr SendResponse
		if err := json.Unmarshal(raw, &sr); err != nil || len(sr.Messages) == 0 || sr.Messages[0].ID == "" {
			return notifier.SendResult{}, &notifier.SendError{Class: notifier.Uncertain, HTTPStatus: resp.StatusCode, Message: "accepted without a message id"}
		}
		res := notifier.SendResult{MessageID: sr.Messages[0].ID}
		if len(sr.Contacts) > 0 {
			res.WaID = sr.Contacts[0].WaID
		}
		return res, nil
	}
	return notifier.SendResult{}, ParseError(resp.StatusCode, raw)
}
