package service

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/shiptrace/shiptrace/notifier/metrics"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/tracklink"
)

// KPIView is one cohort's counts and derived rates on GET /v1/kpis.
type KPIView struct {
	outbox.Cohort
	Accepted  uint64            `json:"accepted"`
	Sent      uint64            `json:"sent"`
	Delivered uint64            `json:"delivered"`
	Read      uint64            `json:"read"`
	Clicked   uint64            `json:"clicked"`
	Replied   uint64            `json:"replied"`
	Failed    map[string]uint64 `json:"failed"` // by error code bucket (whatsapp.CodeBucket)
	Rates     KPIRates          `json:"rates"`
}

// KPIRates are ratios of the counts; null while the denominator is 0.
type KPIRates struct {
	Delivered *float64 `json:"delivered"` // delivered / sent
	Read      *float64 `json:"read"`      // read / delivered
	Clicked   *float64 `json:"clicked"`   // clicked / delivered (opens, so it can exceed 1)
	Replied   *float64 `json:"replied"`   // replied / delivered
}

func ratio(a, b uint64) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

// handleKPIs serves the KPI counts per template × language × variant.
func (s *Service) handleKPIs(w http.ResponseWriter, _ *http.Request) {
	ks, err := s.store.KPIs()
	if err != nil {
		s.log.Error("read KPIs", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the outbox"})
		return
	}
	out := make([]KPIView, 0, len(ks))
	for _, k := range ks {
		out = append(out, KPIView{Cohort: k.Cohort, Accepted: k.Accepted, Sent: k.Sent, Delivered: k.Delivered,
			Read: k.Read, Clicked: k.Clicked, Replied: k.Replied, Failed: metrics.BucketCodes(k.Failed),
			Rates: KPIRates{Delivered: ratio(k.Delivered, k.Sent), Read: ratio(k.Read, k.Delivered),
				Clicked: ratio(k.Clicked, k.Delivered), Replied: ratio(k.Replied, k.Delivered)}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"kpis": out})
}

// clickRedirect serves GET /t/{token}: it counts an open of a tracking link
// for the template, language and variant its signed claims name, then
// redirects to the tracking page (tracking_url). A link that does not
// verify is redirected uncounted: the page says why it does not work.
func clickRedirect(links *tracklink.Signer, pattern string, r *template.Renderer, store *outbox.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tok := req.PathValue("token")
		if c, err := links.Verify(tok, time.Now(), tracklink.AudienceBuyer, tracklink.AudienceOps); err == nil && c.Template != "" {
			if lang, ok := r.LanguageFor(c.Template, c.Lang); ok {
				if err := store.RecordClick(outbox.Cohort{Template: c.Template, Language: lang, Variant: c.Variant}); err != nil {
					log.Error("count a tracking-link open", slog.Any("error", err))
				}
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, req, fmt.Sprintf(pattern, url.PathEscape(tok)), http.StatusFound)
	})
}
