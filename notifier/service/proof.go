package service

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// handleProof serves GET /v1/notifications/{id}/proof: the notification's
// status records (canonical bytes), each with its leaf index, audit path,
// batch, root and the transaction and block that hold the root
// (proof.Proof). 404 for a notification the store does not know; state
// "pending" while any record is not yet in an anchored batch. The records
// hold no personal data, so the proof may be handed to any member.
func (s *Service) handleProof(w http.ResponseWriter, id string) {
	p, err := s.store.Proof(id)
	if errors.Is(err, outbox.ErrNoRecords) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such notification"})
		return
	}
	if err != nil {
		s.log.Error("proof of notification", slog.String("notification", id), slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not assemble the proof"})
		return
	}
	writeJSON(w, http.StatusOK, p)
}
