package service

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/conversation"
	"github.com/shiptrace/shiptrace/notifier/intake"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// adminHandler is the admin API: notification listings, the outbox's
// status and the events set aside (dead letters), for the exporter's
// operators. Every route needs admin.token.
func (s *Service) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/shipments/{id}/notifications", s.handleShipmentNotifications)
	mux.HandleFunc("GET /v1/notifications/{id...}", s.handleNotification)
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.Handle("GET /v1/dead-letters", intake.DeadLetterHandler(s.store, s.log))
	mux.HandleFunc("GET /v1/kpis", s.handleKPIs)
	if s.conversation != nil {
		// Claims: the buyer's originals next to the ledger's digests.
		mux.Handle("GET /v1/claims/", conversation.ProofHandler(s.store, s.ledger, s.log))
	}
	return requireToken(s.cfg.Admin.Token, mux)
}

// requireToken admits requests carrying "Authorization: Bearer <token>".
// Both sides are hashed before the constant-time comparison, so neither
// the token's bytes nor its length leak through timing.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || token == "" || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shiptrace-notifier admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "the admin API needs Authorization: Bearer <admin.token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// View is a notification as the admin API shows it: what was owed, to which
// role, and what became of it — never to whom. No number (not even masked:
// a country code and two digits narrow a number down to a few thousand),
// no rendered parameters (the first is the buyer's name), no WhatsApp
// message ID (it embeds the number). PhoneRef, the keyed reference, lets an
// operator see that two notifications went to one number.
type View struct {
	ID         string          `json:"id"`
	TxID       string          `json:"txId"`
	Block      uint64          `json:"block"`
	EventType  string          `json:"eventType"`
	Recipient  string          `json:"recipient"`
	ShipmentID string          `json:"shipmentId"`
	EventTime  time.Time       `json:"eventTime"`
	PhoneRef   string          `json:"phoneRef,omitempty"`
	Message    ViewMessage     `json:"message"`
	Status     notifier.Status `json:"status"`
	Reason     string          `json:"reason,omitempty"`
	ErrorCode  int             `json:"errorCode,omitempty"`
	Attempts   int             `json:"attempts"`
	NextAt     time.Time       `json:"nextAt,omitzero"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	SentAt     time.Time       `json:"sentAt,omitzero"`
	ErasedAt   time.Time       `json:"erasedAt,omitzero"`
	// NotBefore is when a deferred notification (quiet hours, daily cap)
	// will go; Status is "deferred" until then.
	NotBefore time.Time `json:"notBefore,omitzero"`
	Variant   string    `json:"variant,omitempty"`
}

// StatusDeferred is how the listing shows a queued notification that the
// frequency cap or quiet hours hold until its NotBefore. In the store it
// is queued: the queue is what sends it then.
const StatusDeferred notifier.Status = "deferred"

// ViewMessage is the template a notification uses.
type ViewMessage struct {
	Template string `json:"template"`
	Language string `json:"language,omitempty"`
}

func view(n notifier.Notification) View { return viewAt(n, time.Now()) }

func viewAt(n notifier.Notification, now time.Time) View {
	v := View{
		ID: n.ID, TxID: n.TxID, Block: n.Block, EventType: n.EventType, Recipient: n.Recipient,
		ShipmentID: n.ShipmentID, EventTime: n.EventTime, PhoneRef: n.PhoneRef,
		Message: ViewMessage{Template: n.Message.Template, Language: n.Message.Language},
		Status:  n.Status, Reason: n.Reason, ErrorCode: n.ErrorCode, Attempts: n.Attempts,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, SentAt: n.SentAt, ErasedAt: n.ErasedAt,
		Variant: n.Variant,
	}
	if n.Status == notifier.StatusQueued && now.Before(n.NotBefore) {
		v.Status, v.NotBefore = StatusDeferred, n.NotBefore
	}
	if !n.Status.Terminal() {
		v.NextAt = n.NextAt
	}
	return v
}

func (s *Service) handleShipmentNotifications(w http.ResponseWriter, r *http.Request) {
	ns, err := s.store.ByShipment(r.PathValue("id"))
	if err != nil {
		s.log.Error("list notifications", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	out := make([]View, 0, len(ns))
	for _, n := range ns {
		out = append(out, view(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"shipmentId": r.PathValue("id"), "notifications": out})
}

func (s *Service) handleNotification(w http.ResponseWriter, r *http.Request) {
	// Notification IDs hold slashes and end in a role, so ".../proof" is
	// unambiguous: the proof of notification (proof.go).
	if id, ok := strings.CutSuffix(r.PathValue("id"), "/proof"); ok {
		s.handleProof(w, id)
		return
	}
	n, err := s.store.Get(r.PathValue("id"))
	if errors.Is(err, outbox.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such notification"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	writeJSON(w, http.StatusOK, view(n))
}

func (s *Service) handleStatus(w http.ResponseWriter, _ *http.Request) {
	counts, err := s.store.CountByStatus()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	cp, _ := s.store.Checkpoint()
	s.mu.Lock()
	body := map[string]any{"checkpoint": cp, "intakeConnected": s.connected, "recoveredAtStart": s.recovered, "notifications": counts}
	s.mu.Unlock()
	if reason := s.sender.Paused(); reason != "" {
		body["sendingPaused"] = reason
	}
	if a, err := s.store.AnchorStatus(); err == nil {
		body["proofOfNotification"] = a // a growing backlog means the ledger refuses or is unreachable
	}
	writeJSON(w, http.StatusOK, body)
}
