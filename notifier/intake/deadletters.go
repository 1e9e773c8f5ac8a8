package intake

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// DeadLetterLister lists events set aside.
type DeadLetterLister interface {
	DeadLetters() ([]outbox.Parked, error)
}

// deadLetterView is a parked event as the admin API shows it: what, why,
// how often tried, without the raw payload (events carry no personal data,
// but the listing needs none of it).
type deadLetterView struct {
	TxID      string `json:"txId"`
	Block     uint64 `json:"block"`
	Type      string `json:"type"`
	Shipment  string `json:"shipmentId"`
	EventTime string `json:"eventTime,omitempty"`
	Reason    string `json:"reason"`
	Error     string `json:"error,omitempty"`
	Attempts  int    `json:"attempts"`
	FirstAt   string `json:"firstAt"`
	NextAt    string `json:"nextAt,omitempty"`
	Dead      bool   `json:"dead"`
}

// DeadLetterHandler serves GET /v1/dead-letters: every event set aside,
// those still being retried (dead false) and those given up (dead true).
// The admin API mounts it.
func DeadLetterHandler(store DeadLetterLister, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ps, err := store.DeadLetters()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			log.Error("list dead letters", slog.Any("error", err))
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "could not read the outbox"})
			return
		}
		out := make([]deadLetterView, 0, len(ps))
		dead := 0
		for _, p := range ps {
			v := deadLetterView{TxID: p.Event.TxID, Block: p.Event.Block, Type: p.Type, Shipment: p.Shipment,
				Reason: p.Reason, Error: p.Error, Attempts: p.Attempts, FirstAt: p.FirstAt.UTC().Format(timeFormat), Dead: p.Dead}
			if !p.EventTime.IsZero() {
				v.EventTime = p.EventTime.UTC().Format(timeFormat)
			}
			if !p.Dead {
				v.NextAt = p.NextAt.UTC().Format(timeFormat)
			}
			if p.Dead {
				dead++
			}
			out = append(out, v)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"dead": dead, "events": out})
	})
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"
