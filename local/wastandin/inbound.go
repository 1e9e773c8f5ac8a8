package wastandin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Inbound is a message a user sends to the business, as the stand-in
// posts it to the webhook. Exactly one kind: Text; a template quick-reply
// tap (ButtonPayload, ButtonText: type "button"); an interactive reply
// (ReplyID, ReplyTitle: type "interactive", a button_reply, or a
// list_reply with List); or an image (MediaID of an object uploaded with
// AddMedia, Caption). At is WhatsApp's timestamp (default: the stand-in's
// clock); it opens the user's 24-hour window.
type Inbound struct {
	From          string    `json:"from"`
	Text          string    `json:"text,omitempty"`
	ButtonPayload string    `json:"buttonPayload,omitempty"`
	ButtonText    string    `json:"buttonText,omitempty"`
	ReplyID       string    `json:"replyId,omitempty"`
	ReplyTitle    string    `json:"replyTitle,omitempty"`
	List          bool      `json:"list,omitempty"`
	MediaID       string    `json:"mediaId,omitempty"`
	Caption       string    `json:"caption,omitempty"`
	At            time.Time `json:"at,omitzero"`
}

// PostInboundMessage posts a signed webhook for a user's message and
// returns its message ID. from is the user's number; the webhook carries
// its wa_id, as Meta's does.
func (s *Server) PostInboundMessage(ctx context.Context, in Inbound) (string, error) {
	at := in.At
	if at.IsZero() {
		at = s.cfg.Now()
	}
	waID := s.WaID(in.From)
	msg := map[string]any{"from": waID, "id": newWAMID(), "timestamp": fmt.Sprint(at.Unix())}
	switch {
	case in.ButtonPayload != "":
		msg["type"] = "button"
		msg["button"] = map[string]string{"payload": in.ButtonPayload, "text": in.ButtonText}
	case in.ReplyID != "":
		msg["type"] = "interactive"
		if in.List {
			msg["interactive"] = map[string]any{"type": "list_reply", "list_reply": map[string]string{"id": in.ReplyID, "title": in.ReplyTitle}}
		} else {
			msg["interactive"] = map[string]any{"type": "button_reply", "button_reply": map[string]string{"id": in.ReplyID, "title": in.ReplyTitle}}
		}
	case in.MediaID != "":
		s.mu.Lock()
		obj, ok := s.media[in.MediaID]
		s.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("unknown media ID %s: upload it first", in.MediaID)
		}
		msg["type"] = "image"
		img := map[string]string{"id": in.MediaID, "mime_type": obj.mime, "sha256": obj.sha256}
		if in.Caption != "" {
			img["caption"] = in.Caption
		}
		msg["image"] = img
	default:
		msg["type"] = "text"
		msg["text"] = map[string]string{"body": in.Text}
	}
	s.openWindow(waID, at)
	body := envelope(s.cfg.PhoneNumberID, s.cfg.DisplayPhoneNumber, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": "Stand-in user"}, "wa_id": waID}},
		"messages": []any{msg},
	})
	return msg["id"].(string), s.deliver(ctx, body)
}

// mediaObject is a media file users can send (AddMedia).
type mediaObject struct {
	mime   string
	data   []byte
	sha256 string
}

// AddMedia stores a media object, as a user's upload would, and returns its
// media ID for an inbound image message.
func (s *Server) AddMedia(mime string, data []byte) string {
	sum := sha256.Sum256(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("%d", 1_000_000_000_000+len(s.media)+1)
	s.media[id] = mediaObject{mime: mime, data: append([]byte(nil), data...), sha256: hex.EncodeToString(sum[:])}
	return id
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") || strings.TrimPrefix(auth, "Bearer ") != s.cfg.Token {
		writeError(w, NewError(190, "the access token is missing, malformed or expired"))
		return false
	}
	return true
}

// handleMediaInfo answers GET /{version}/{media-id} as Meta does: a
// download URL (here on the stand-in) with the MIME type, SHA-256 and size.
func (s *Server) handleMediaInfo(w http.ResponseWriter, r *http.Request) {
	if !versionRe.MatchString(r.PathValue("version")) {
		writeError(w, &APIError{HTTPStatus: 400, Code: 2500, Type: "IGApiException", Message: "Unknown path components: /" + r.PathValue("version")})
		return
	}
	if !s.authorized(w, r) {
		return
	}
	id := r.PathValue("mediaID")
	s.mu.Lock()
	obj, ok := s.media[id]
	s.mu.Unlock()
	if !ok {
		writeError(w, &APIError{HTTPStatus: 400, Code: 100, Subcode: 33, Type: "GraphMethodException",
			Message: fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist", id)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp", "url": "http://" + r.Host + "/_media/" + id,
		"mime_type": obj.mime, "sha256": obj.sha256, "file_size": len(obj.data), "id": id,
	})
}

// handleMediaDownload serves a media object's bytes to a request with the
// bearer token, as Meta's lookaside URLs do.
func (s *Server) handleMediaDownload(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	obj, ok := s.media[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", obj.mime)
	_, _ = w.Write(obj.data)
}

// handleUploadMedia stores the request body as a media object of its
// Content-Type and answers {"id"}.
func (s *Server) handleUploadMedia(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil || len(data) == 0 {
		http.Error(w, "media: need a body", http.StatusBadRequest)
		return
	}
	mime := r.Header.Get("Content-Type")
	if mime == "" {
		mime = "image/jpeg"
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": s.AddMedia(mime, data)})
}

// freeFormBody keeps a free-form message's body in its record, so tests
// read what the user would see.
func freeFormBody(typ string, raw []byte) json.RawMessage {
	if typ == "template" {
		return nil
	}
	return jsonOrNil(raw)
}
