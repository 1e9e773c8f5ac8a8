// Package webhook receives WhatsApp Cloud API webhooks: Meta's
// verification handshake, delivery statuses (which move notifications to
// sent, delivered, read or failed) and inbound texts (where STOP and the
// other configured words record an opt-out). Every POST must carry a valid
// X-Hub-Signature-256 made with the app secret.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
)

// DefaultOptOutWords are the opt-out keywords recognised when none are
// configured: English, Spanish, Portuguese, German, French, Italian, Dutch.
// A message opts out only if it consists of one of them (case, accents and
// surrounding punctuation ignored), so "don't stop the truck" does not.
var DefaultOptOutWords = []string{
	"STOP", "UNSUBSCRIBE", "STOP ALL", "OPT OUT",
	"PARAR", "BAJA", "DARME DE BAJA", "DETENER", "ALTO", "CANCELAR SUSCRIPCION",
	"SAIR", "CANCELAR", "DESCADASTRAR",
	"STOPP", "ABMELDEN",
	"ARRET", "DESABONNER", "DESINSCRIRE",
	"FERMA", "DISISCRIVIMI",
	"AFMELDEN",
}

// DefaultOptInWords undo an opt-out.
var DefaultOptInWords = []string{"START", "UNSTOP", "SUBSCRIBE", "ALTA", "INICIAR", "ANMELDEN"}

// Config configures the handler.
type Config struct {
	VerifyToken string
	AppSecret   string
	OptOutWords []string
	OptInWords  []string
	// PhoneNumberID is our business number's ID; changes for another
	// number (a WABA shared by several apps) are ignored. Empty: no check.
	PhoneNumberID string
	// MaxBody bounds a webhook body (default DefaultMaxBody).
	MaxBody int64
	// RetryAfter is how long a message WhatsApp reported failed with a
	// retryable code waits before it is sent again (30s); MaxAttempts
	// bounds its attempts as the sender's do (10).
	RetryAfter  time.Duration
	MaxAttempts int
	// Replies, if set, is told of every inbound message, for the
	// "replied" KPI (outbox.Store.RecordReply).
	Replies ReplyCounter
	// Conversation, when set, gets every inbound message that is not a
	// consent word (notifier/conversation: status replies, claims). Its
	// error makes Meta redeliver the webhook.
	Conversation Conversation
}

// ReplyCounter counts an inbound message as a reply to a recent message:
// the one it quotes (context.id, a wamid) or the last one delivered to
// its sender.
type ReplyCounter interface {
	RecordReply(from, contextWAMID string, at time.Time) (bool, error)
}

// Conversation answers users' messages.
type Conversation interface {
	Handle(ctx context.Context, m notifier.InboundMessage) error
}

// DefaultMaxBody is the largest webhook body read. Meta documents webhook
// payloads of up to 3 MB
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/overview);
// a refused delivery is retried by Meta and refused again, so the limit
// leaves room above that.
const DefaultMaxBody = 4 << 20

// WhatsAppObject is the "object" of every WhatsApp Business Account webhook.
const WhatsAppObject = "whatsapp_business_account"

// Store is the part of the outbox the webhook writes to.
type Store interface {
	ApplyStatus(u outbox.StatusUpdate) (before, after notifier.Notification, found bool, err error)
	ApplyConsent(c outbox.ConsentChange) (applied bool, err error)
	RequeueFailed(u outbox.StatusUpdate, next time.Time, maxAttempts int) (notifier.Notification, bool, error)
	LinkWAID(number, waID string) error
	// PhoneRef and MessageRef are the keyed references of a number or
	// wa_id and of a WhatsApp message ID, the only forms in which they
	// may appear in logs: Meta's message IDs embed the number.
	PhoneRef(phone string) string
	MessageRef(wamid string) string
}

// Observer is told what the webhook did, for metrics.
type Observer interface {
	Request(result string)
	StatusChanged(before, after notifier.Notification)
	OptOut()
}

type nopObserver struct{}

func (nopObserver) Request(string)                                             {}
func (nopObserver) StatusChanged(notifier.Notification, notifier.Notification) {}
func (nopObserver) OptOut()                                                    {}

// Handler serves GET (verification) and POST (events) on the webhook path.
type Handler struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	obs    Observer
	optOut map[string]bool
	optIn  map[string]bool
}

// New returns a webhook handler. obs may be nil.
func New(cfg Config, store Store, log *slog.Logger, obs Observer) *Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.OptOutWords == nil {
		cfg.OptOutWords = DefaultOptOutWords
	}
	if cfg.OptInWords == nil {
		cfg.OptInWords = DefaultOptInWords
	}
	if obs == nil {
		obs = nopObserver{}
	}
	h := &Handler{cfg: cfg, store: store, log: log, obs: obs, optOut: map[string]bool{}, optIn: map[string]bool{}}
	for _, w := range cfg.OptOutWords {
		h.optOut[Normalize(w)] = true
	}
	for _, w := range cfg.OptInWords {
		h.optIn[Normalize(w)] = true
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.verify(w, r)
	case http.MethodPost:
		h.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify answers Meta's subscription handshake: echo hub.challenge when
// hub.mode is subscribe and hub.verify_token matches ours.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || h.cfg.VerifyToken == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(h.cfg.VerifyToken)) != 1 {
		h.obs.Request("verify_refused")
		http.Error(w, "verification refused", http.StatusForbidden)
		return
	}
	h.obs.Request("verified")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// ValidSignature reports whether header is "sha256=" + hex HMAC-SHA256 of
// body keyed with secret, compared in constant time.
func ValidSignature(secret string, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				MessagingProduct string `json:"messaging_product"`
				Metadata         struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				Statuses []status     `json:"statuses"`
				Messages []inboundMsg `json:"messages"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type status struct {
	ID                    string `json:"id"`
	Status                string `json:"status"`
	Timestamp             string `json:"timestamp"`
	RecipientID           string `json:"recipient_id"`
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
	Errors                []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

type inboundMsg struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      *struct {
		Body string `json:"body"`
	} `json:"text"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
	// Context names the message a reply quotes (or whose button it taps).
	Context *struct {
		ID string `json:"id"`
	} `json:"context"`
	Image *struct {
		ID       string `json:"id"`
		MIMEType string `json:"mime_type"`
		Caption  string `json:"caption"`
	} `json:"image"`
}

func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		h.obs.Request("too_large")
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		h.obs.Request("missing_signature")
		http.Error(w, "missing X-Hub-Signature-256", http.StatusUnauthorized)
		return
	}
	if !ValidSignature(h.cfg.AppSecret, body, sig) {
		h.obs.Request("bad_signature")
		h.log.Warn("webhook refused: signature does not match", slog.String("remote", r.RemoteAddr))
		http.Error(w, "invalid signature", http.StatusForbidden)
		return
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		h.obs.Request("bad_payload")
		http.Error(w, "invalid JSON", http.StatusBadRequest)
		return
	}
	if p.Object != WhatsAppObject {
		// Signed with our secret, but not about WhatsApp (another product
		// subscribed on the same app): nothing here is ours to apply.
		h.obs.Request("other_object")
		h.log.Warn("webhook for another object ignored", slog.String("object", p.Object))
		w.WriteHeader(http.StatusOK)
		return
	}
	for _, e := range p.Entry {
		for _, c := range e.Changes {
			if c.Field != "" && c.Field != "messages" {
				continue
			}
			if id := c.Value.Metadata.PhoneNumberID; h.cfg.PhoneNumberID != "" && id != h.cfg.PhoneNumberID {
				// Another business number of the account: its statuses
				// and its customers' STOPs are not about our messages.
				h.obs.Request("other_phone_number")
				h.log.Warn("webhook change for another phone number ID ignored", slog.String("phone_number_id", id))
				continue
			}
			for _, st := range c.Value.Statuses {
				if err := h.applyStatus(st); err != nil {
					h.obs.Request("error")
					h.log.Error("record status webhook", slog.String("message_ref", h.store.MessageRef(st.ID)), slog.Any("error", err))
					// 500 makes Meta retry the whole delivery; applying a
					// status twice is harmless.
					http.Error(w, "could not record status", http.StatusInternalServerError)
					return
				}
			}
			for _, m := range c.Value.Messages {
				if err := h.countReply(m); err != nil {
					h.obs.Request("error")
					h.log.Error("count a reply", slog.Any("error", err))
					http.Error(w, "could not record message", http.StatusInternalServerError)
					return
				}
				if err := h.inbound(r.Context(), m); err != nil {
					h.obs.Request("error")
					h.log.Error("record inbound message", slog.Any("error", err))
					http.Error(w, "could not record message", http.StatusInternalServerError)
					return
				}
			}
		}
	}
	h.obs.Request("ok")
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) applyStatus(st status) error {
	var s notifier.Status
	switch st.Status {
	case "sent":
		s = notifier.StatusSent
	case "delivered":
		s = notifier.StatusDelivered
	case "read":
		s = notifier.StatusRead
	case "failed":
		s = notifier.StatusFailed
	default:
		return nil // deleted, warning, ...: nothing to track
	}
	at, ok := unixTime(st.Timestamp)
	if !ok {
		at = time.Now()
	}
	u := outbox.StatusUpdate{WAMID: st.ID, CallbackData: st.BizOpaqueCallbackData, Status: s, At: at, RecipientID: st.RecipientID}
	if len(st.Errors) > 0 {
		e := st.Errors[0]
		u.Code = e.Code
		u.Reason = strings.TrimSpace(e.Title + ": " + e.ErrorData.Details)
	}
	if s == notifier.StatusFailed && retryable(u.Code) {
		n, requeued, err := h.store.RequeueFailed(u, time.Now().Add(h.cfg.RetryAfter), h.cfg.MaxAttempts)
		if err != nil {
			return err
		}
		if requeued {
			h.log.Warn("WhatsApp reported a message failed with a retryable code; it will be sent again",
				slog.String("notification", n.ID), slog.String("shipment", n.ShipmentID), slog.Int("code", u.Code), slog.Int("attempts", n.Attempts))
			return nil
		}
	}
	before, after, found, err := h.store.ApplyStatus(u)
	if err != nil {
		return err
	}
	if !found {
		h.log.Debug("status for unknown message", slog.String("message_ref", h.store.MessageRef(st.ID)), slog.String("status", st.Status))
		return nil
	}
	// recipient_id is the wa_id WhatsApp delivered to; a STOP will come
	// from it even when it differs from the number we sent to.
	if err := h.store.LinkWAID(after.Phone, st.RecipientID); err != nil {
		return err
	}
	if before.Status != after.Status {
		h.obs.StatusChanged(before, after)
		h.log.Info("notification status", slog.String("notification", after.ID), slog.String("shipment", after.ShipmentID),
			slog.String("from", string(before.Status)), slog.String("to", string(after.Status)), slog.Int("code", u.Code))
	}
	return nil
}

// countReply tells the reply counter of an inbound message; a replayed
// webhook counts nothing twice (a message is counted replied once).
func (h *Handler) countReply(m inboundMsg) error {
	if h.cfg.Replies == nil || m.From == "" {
		return nil
	}
	at, ok := unixTime(m.Timestamp)
	if !ok {
		at = time.Now()
	}
	var quoted string
	if m.Context != nil {
		quoted = m.Context.ID
	}
	_, err := h.cfg.Replies.RecordReply(m.From, quoted, at)
	return err
}

func (h *Handler) inbound(ctx context.Context, m inboundMsg) error {
	var text string
	switch {
	case m.Image != nil || m.Interactive != nil && m.Interactive.ListReply != nil:
		return h.converse(ctx, m)
	case m.Text != nil:
		text = m.Text.Body
	case m.Button != nil:
		text = m.Button.Payload
		if !h.optOut[Normalize(text)] && !h.optIn[Normalize(text)] {
			text = m.Button.Text
		}
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		text = m.Interactive.ButtonReply.ID
		if !h.optOut[Normalize(text)] && !h.optIn[Normalize(text)] {
			text = m.Interactive.ButtonReply.Title
		}
	default:
		return nil
	}
	if m.From == "" {
		return nil
	}
	word := Normalize(text)
	optOut, optIn := h.optOut[word], h.optIn[word]
	if !optOut && !optIn {
		return h.converse(ctx, m)
	}
	at, ok := unixTime(m.Timestamp)
	if !ok {
		if optIn {
			// Without WhatsApp's timestamp an opt-in cannot be ordered
			// against the opt-out it would undo: a replay must not win.
			h.log.Warn("opt-in without a message timestamp ignored", slog.String("recipient_ref", h.store.PhoneRef(m.From)))
			return nil
		}
		at = time.Now()
	}
	applied, err := h.store.ApplyConsent(outbox.ConsentChange{From: m.From, OptOut: optOut, Word: word, MessageID: m.ID, At: at})
	if err != nil {
		return err
	}
	if !applied {
		h.log.Info("consent message ignored: already seen or older than the recorded one",
			slog.String("recipient_ref", h.store.PhoneRef(m.From)), slog.String("word", word), slog.Time("message_time", at))
		return nil
	}
	if optOut {
		h.obs.OptOut()
		h.log.Info("recipient opted out", slog.String("recipient_ref", h.store.PhoneRef(m.From)), slog.String("word", word))
	} else {
		h.log.Info("recipient opted back in", slog.String("recipient_ref", h.store.PhoneRef(m.From)))
	}
	return nil
}

// converse hands a message that is not a consent word to the
// conversation, if there is one.
func (h *Handler) converse(ctx context.Context, m inboundMsg) error {
	if h.cfg.Conversation == nil || m.From == "" {
		return nil
	}
	in := notifier.InboundMessage{From: m.From, ID: m.ID, Kind: m.Type}
	if at, ok := unixTime(m.Timestamp); ok {
		in.At = at
	} else {
		in.At = time.Now()
	}
	switch {
	case m.Text != nil:
		in.Kind, in.Text = "text", m.Text.Body
	case m.Button != nil:
		in.Kind, in.Text, in.ReplyID = "button", m.Button.Text, m.Button.Payload
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		in.Kind, in.Text, in.ReplyID = "interactive", m.Interactive.ButtonReply.Title, m.Interactive.ButtonReply.ID
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		in.Kind, in.Text, in.ReplyID = "interactive", m.Interactive.ListReply.Title, m.Interactive.ListReply.ID
	case m.Image != nil:
		in.Kind, in.Text, in.MediaID, in.MIME = "image", m.Image.Caption, m.Image.ID, m.Image.MIMEType
	default:
		return nil
	}
	return h.cfg.Conversation.Handle(ctx, in)
}

// retryable reports whether a failed status's code means the message did
// not go out for a passing reason (whatsapp.ClassifyError: transient or
// throttled), so sending it again is right and cannot duplicate it.
func retryable(code int) bool {
	switch whatsapp.ClassifyError(code, 0, 0) {
	case notifier.Transient, notifier.Throttled:
		return code != 0
	}
	return false
}

// Normalize folds an inbound text for keyword matching: accents removed,
// upper case, surrounding punctuation and inner runs of spaces collapsed.
func Normalize(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, s)
	if err != nil {
		folded = s
	}
	folded = strings.TrimFunc(folded, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) })
	return strings.ToUpper(strings.Join(strings.Fields(folded), " "))
}

// unixTime reads WhatsApp's timestamp (seconds since the epoch, as a string).
func unixTime(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}
