// Package logonly is a provider that sends nothing: it logs what would have
// been sent (template, language, notification — never the number) so the
// notifier can run locally without WhatsApp credentials.
package logonly

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/shiptrace/shiptrace/notifier"
)

// Provider logs messages instead of sending them.
type Provider struct {
	log *slog.Logger
}

// New returns a log-only provider writing to log.
func New(log *slog.Logger) *Provider { return &Provider{log: log} }

// Send logs msg and returns a made-up message ID so the rest of the
// pipeline (status tracking, listing) behaves as with a real provider.
func (p *Provider) Send(ctx context.Context, msg notifier.Message) (notifier.SendResult, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := "log." + hex.EncodeToString(b[:])
	p.log.InfoContext(ctx, "message not sent: log-only provider",
		slog.String("template", msg.Template),
		slog.String("language", msg.Language),
		slog.String("notification", msg.CallbackData),
		slog.String("message_id", id))
	return notifier.SendResult{MessageID: id}, nil
}
