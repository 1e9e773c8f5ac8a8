package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/shiptrace/shiptrace/notifier"
)

// Free-form messages (text and interactive) are allowed only inside the
// 24-hour customer-service window a user's message opens; outside it Meta
// answers 131047. The caller keeps the window (notifier/conversation);
// these methods only speak the API.

// ReplyButton is one reply button of an interactive button message (at
// most 3; title up to 20 characters).
type ReplyButton struct {
	ID    string
	Title string
}

// ListRow is one row of an interactive list message (at most 10; title
// up to 24 characters, description up to 72).
type ListRow struct {
	ID          string
	Title       string
	Description string
}

// FreeForm is a free-form reply: a text, or a text with reply buttons, or
// a text with a list (ListButton opens it).
type FreeForm struct {
	Text       string
	Buttons    []ReplyButton
	ListButton string
	Rows       []ListRow
}

// freeFormRequest is the Cloud API body of a text or interactive message.
func freeFormRequest(to string, m FreeForm) map[string]any {
	req := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": notifier.NormalizePhone(to)}
	switch {
	case len(m.Buttons) > 0:
		buttons := make([]any, len(m.Buttons))
		for i, b := range m.Buttons {
			buttons[i] = map[string]any{"type": "reply", "reply": map[string]string{"id": b.ID, "title": b.Title}}
		}
		req["type"] = "interactive"
		req["interactive"] = map[string]any{"type": "button", "body": map[string]string{"text": m.Text},
			"action": map[string]any{"buttons": buttons}}
	case len(m.Rows) > 0:
		rows := make([]any, len(m.Rows))
		for i, r := range m.Rows {
			row := map[string]string{"id": r.ID, "title": r.Title}
			if r.Description != "" {
				row["description"] = r.Description
			}
			rows[i] = row
		}
		req["type"] = "interactive"
		req["interactive"] = map[string]any{"type": "list", "body": map[string]string{"text": m.Text},
			"action": map[string]any{"button": m.ListButton, "sections": []any{map[string]any{"title": m.ListButton, "rows": rows}}}}
	default:
		req["type"] = "text"
		req["text"] = map[string]any{"preview_url": false, "body": m.Text}
	}
	return req
}

// SendFreeForm sends a text or interactive message to to (a number or a
// wa_id). Errors are classified like Send's (131047: outside the window).
func (c *Client) SendFreeForm(ctx context.Context, to string, m FreeForm) (notifier.SendResult, error) {
	body, err := json.Marshal(freeFormRequest(to, m))
	if err != nil {
		return notifier.SendResult{}, &notifier.SendError{Class: notifier.Permanent, Message: "encode request", Err: err}
	}
	raw, status, err := c.do(ctx, http.MethodPost, fmt.Sprintf("%s/%s/%s/messages", c.baseURL, c.version, c.phoneNumberID), body)
	if err != nil {
		return notifier.SendResult{}, err
	}
	if status/100 != 2 {
		return notifier.SendResult{}, ParseError(status, raw)
	}
	var sr SendResponse
	if err := json.Unmarshal(raw, &sr); err != nil || len(sr.Messages) == 0 || sr.Messages[0].ID == "" {
		return notifier.SendResult{}, &notifier.SendError{Class: notifier.Uncertain, HTTPStatus: status, Message: "accepted without a message id"}
	}
	res := notifier.SendResult{MessageID: sr.Messages[0].ID}
	if len(sr.Contacts) > 0 {
		res.WaID = sr.Contacts[0].WaID
	}
	return res, nil
}

// Media is a downloaded media object: its bytes, MIME type and SHA-256.
type Media struct {
	Bytes  []byte
	MIME   string
	SHA256 string // hex of the bytes as downloaded
}

// ErrMediaTooLarge is returned for media above the caller's bound.
var ErrMediaTooLarge = errors.New("media is larger than allowed")

// mediaInfo is the answer to GET /{media-id}.
type mediaInfo struct {
	URL      string `json:"url"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
	ID       string `json:"id"`
}

// FetchMedia downloads an inbound message's media in the two steps Meta
// documents: GET /{version}/{media-id} for a short-lived URL, then GET that
// URL with the same bearer token. At most maxBytes are read; a larger
// object is ErrMediaTooLarge, whether the metadata says so or the body
// does. When Meta states the object's SHA-256 the bytes must match it.
func (c *Client) FetchMedia(ctx context.Context, mediaID string, maxBytes int64) (Media, error) {
	raw, status, err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s/%s/%s", c.baseURL, c.version, mediaID), nil)
	if err != nil {
		return Media{}, fmt.Errorf("media %s: %w", mediaID, err)
	}
	if status/100 != 2 {
		return Media{}, fmt.Errorf("media %s: %w", mediaID, ParseError(status, raw))
	}
	var info mediaInfo
	if err := json.Unmarshal(raw, &info); err != nil || info.URL == "" {
		return Media{}, fmt.Errorf("media %s: the answer has no download URL", mediaID)
	}
	if info.FileSize > maxBytes {
		return Media{}, fmt.Errorf("media %s: %d bytes: %w (%d)", mediaID, info.FileSize, ErrMediaTooLarge, maxBytes)
	}
	token, err := c.token()
	if err != nil {
		return Media{}, &notifier.SendError{Class: notifier.Paused, Message: "access token unavailable", Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.URL, nil)
	if err != nil {
		return Media{}, fmt.Errorf("media %s: build download: %w", mediaID, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return Media{}, fmt.Errorf("media %s: download: %w", mediaID, transportError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return Media{}, fmt.Errorf("media %s: download: %w", mediaID, err)
	}
	if resp.StatusCode/100 != 2 {
		return Media{}, fmt.Errorf("media %s: download: %w", mediaID, ParseError(resp.StatusCode, body))
	}
	if int64(len(body)) > maxBytes {
		return Media{}, fmt.Errorf("media %s: %w (%d bytes)", mediaID, ErrMediaTooLarge, maxBytes)
	}
	sum := sha256.Sum256(body)
	m := Media{Bytes: body, MIME: info.MIMEType, SHA256: hex.EncodeToString(sum[:])}
	if info.SHA256 != "" && info.SHA256 != m.SHA256 {
		return Media{}, fmt.Errorf("media %s: the download's SHA-256 differs from the one Meta stated", mediaID)
	}
	return m, nil
}

// do sends one authenticated Graph API request and returns the body and
// status, or a classified transport error.
func (c *Client) do(ctx context.Context, method, url string, body []byte) ([]byte, int, error) {
	token, err := c.token()
	if err != nil {
		return nil, 0, &notifier.SendError{Class: notifier.Paused, Message: "access token unavailable", Err: err}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, 0, &notifier.SendError{Class: notifier.Permanent, Message: "build request", Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, transportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, &notifier.SendError{Class: notifier.Uncertain, HTTPStatus: resp.StatusCode, Message: "read response", Err: err}
	}
	return raw, resp.StatusCode, nil
}
