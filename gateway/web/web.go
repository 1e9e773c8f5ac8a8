// Package web serves the gateway's HTML: the public shipment page behind a
// signed link (the WhatsApp "Track" button). It reads the ledger through
// the same Fabric adapter as the REST API, renders on the server with
// html/template and serves its few static assets from the binary (embed),
// so the page needs nothing from any other host. The detail view is a
// template of its own ("detail") over Detail, for the member console to
// reuse.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Ledger is what the page needs from Fabric; *fabric.Client implements it.
type Ledger interface {
	Evaluate(ctx context.Context, req fabric.Request) ([]byte, error)
	Provenance(ctx context.Context, identity, txID string) (fabric.Provenance, error)
}

// Options assembles Pages.
type Options struct {
	Ledger Ledger
	// Identity is the gateway identity whose peers the page reads through;
	// its role must allow ReadShipment, ShipmentHistory, Readings and
	// Members (gateway, auditor and operator roles do).
	Identity string
	Signer   *tracklink.Signer
	Logger   *slog.Logger
	Now      func() time.Time
	// Registerer, if set, gets shiptrace_gateway_track_opens_total: page
	// views of links that name their message's template and A/B variant
	// (the notifier's click KPI, counted where the page is served).
	Registerer prometheus.Registerer
}

// Pages serves the public shipment page.
type Pages struct {
	load     loader
	signer   *tracklink.Signer
	log      *slog.Logger
	now      func() time.Time
	page     *template.Template
	notFound map[string][]byte // per language, rendered once: every refusal is the same bytes
	memo     *memo
	records  *records
	opens    *prometheus.CounterVec // nil without Options.Registerer
}

// memoShipments bounds how many shipments' detail views are kept.
const memoShipments = 256

// Route is the public page's path; the token is its only parameter.
const Route = "/track/:token"

// contentSecurityPolicy allows only the page's own script and style and
// inline SVG; no other host, no inline script, no framing, no forms.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// New builds the pages.
func New(o Options) (*Pages, error) {
	if o.Ledger == nil || o.Signer == nil || o.Identity == "" {
		return nil, errors.New("web: a ledger, an identity and a link signer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	page, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	p := &Pages{load: loader{ledger: o.Ledger, identity: o.Identity}, signer: o.Signer, log: o.Logger,
		now: o.Now, page: page, notFound: map[string][]byte{}, memo: newMemo(memoShipments), records: newRecords(memoShipments, time.Now)}
	if o.Registerer != nil {
		p.opens = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shiptrace_gateway_track_opens_total",
			Help: "Tracking pages served for links that name their WhatsApp message's template, A/B variant and language (signed by the notifier; nothing personal).",
		}, []string{"template", "variant", "language"})
		if err := o.Registerer.Register(p.opens); err != nil {
			return nil, fmt.Errorf("web: metrics: %w", err)
		}
	}
	for code, l := range langs {
		var b bytes.Buffer
		if err := page.ExecuteTemplate(&b, "notfound", pageData{L: l}); err != nil {
			return nil, fmt.Errorf("web: not-found page (%s): %w", code, err)
		}
		p.notFound[code] = b.Bytes()
	}
	return p, nil
}

// Mount adds the page and its assets to e. They need no API key; the
// access log and metrics of e see the route, never the token.
func (p *Pages) Mount(e *echo.Echo) {
	gz := middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1024})
	e.GET(Route, p.track, secureHeaders) // compressed once per page state by track itself
	assets, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/track/assets/", http.FileServer(http.FS(assets)))
	e.GET("/track/assets/*", func(c echo.Context) error {
		if strings.HasSuffix(c.Request().URL.Path, "/") {
			return c.NoContent(http.StatusNotFound) // no directory listings
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}, secureHeaders, assetCache, gz)
}

func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Robots-Tag", "noindex, nofollow")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

func assetCache(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=86400")
		return next(c)
	}
}

// pageData is what the templates see.
type pageData struct {
	L    lang
	D    *Detail
	Body template.HTML // the detail view, rendered once per state and language
}

// track serves the page for a link. A token that is malformed, tampered
// with, expired or for another audience, an unknown shipment and a
// shipment whose buyer contact was erased all get the same 404 page.
func (p *Pages) track(c echo.Context) error {
	r := c.Request()
	now := p.now()
	claims, err := p.signer.Verify(c.Param("token"), now, tracklink.AudienceBuyer, tracklink.AudienceOps)
	if err != nil {
		return p.gone(c)
	}
	s, err := p.record(r.Context(), claims.ShipmentID)
	if errors.Is(err, errGone) {
		return p.gone(c)
	}
	l := chooseLang(r, claims.Lang)
	if err != nil {
		return p.unavailable(c, l, err)
	}
	kept, err := p.memo.get(r.Context(), s, func() (*Detail, error) {
		return p.load.detail(context.WithoutCancel(r.Context()), s, now)
	})
	if err != nil {
		return p.unavailable(c, l, err)
	}
	d := *kept.d
	d.Shipment, d.ReadAt = s, now.UTC() // the record as this request read it
	body, err := kept.rendered(l.Code, func() (template.HTML, error) {
		var b bytes.Buffer
		err := p.page.ExecuteTemplate(&b, "detail", pageData{L: l, D: &d})
		return template.HTML(b.String()), err // our own template's output: already escaped
	})
	if err != nil {
		return p.unavailable(c, l, fmt.Errorf("render: %w", err))
	}
	page, err := kept.page(l.Code, when(d.ReadAt), func() ([]byte, error) {
		var b bytes.Buffer
		err := p.page.ExecuteTemplate(&b, "page", pageData{L: l, D: &d, Body: body})
		return b.Bytes(), err
	})
	if err != nil {
		return p.unavailable(c, l, fmt.Errorf("render: %w", err))
	}
	if p.opens != nil && claims.Template != "" {
		p.opens.WithLabelValues(claims.Template, claims.Variant, claims.Lang).Inc()
	}
	h := c.Response().Header()
	h.Add("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		return c.HTMLBlob(http.StatusOK, page.gz)
	}
	return c.HTMLBlob(http.StatusOK, page.plain)
}

// record is the shipment's record: the one kept since the last change the
// events announced (records), else read from the ledger. An unknown
// shipment or an erased contact (errGone) is never kept.
func (p *Pages) record(ctx context.Context, id string) (shipment.Shipment, error) {
	s, ok, epoch := p.records.get(id)
	if ok {
		return s, nil
	}
	s, err := p.load.shipment(ctx, id)
	if err == nil {
		p.records.put(s, epoch)
	}
	return s, err
}

// RenderDetail writes the detail view of d (the "detail" template, without
// the page around it) in language code (en, de, es, pt_BR; else English),
// for a face that wraps it in its own layout: the member console.
func (p *Pages) RenderDetail(w io.Writer, code string, d *Detail) error {
	l := langs["en"]
	if c := matchLang(code); c != "" {
		l = langs[c]
	}
	return p.page.ExecuteTemplate(w, "detail", pageData{L: l, D: d})
}

// gone answers the not-found page in the language of the URL or the
// browser, never the one signed into the link: a page in the link's
// language would tell a valid link for an erased contact from a forged one.
func (p *Pages) gone(c echo.Context) error {
	return c.HTMLBlob(http.StatusNotFound, p.notFound[chooseLang(c.Request(), "").Code])
}

// unavailable answers 503 when the ledger could not be read; the cause is
// logged for the operator with the request ID (never the token) and not
// shown.
func (p *Pages) unavailable(c echo.Context, l lang, cause error) error {
	if errors.Is(c.Request().Context().Err(), context.Canceled) {
		return cause
	}
	p.log.ErrorContext(c.Request().Context(), "tracking page failed",
		slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)), slog.String("error", cause.Error()))
	var b bytes.Buffer
	if err := p.page.ExecuteTemplate(&b, "unavailable", pageData{L: l}); err != nil {
		return err
	}
	c.Response().Header().Set("Retry-After", "30")
	return c.HTMLBlob(http.StatusServiceUnavailable, b.Bytes())
}

// when is how the page shows a time: to the minute, in UTC. The footer's
// read time uses it too, which is why a whole page can be kept a minute.
func when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

var funcs = template.FuncMap{
	"when": when,
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"f1":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"name": displayName,
	"names": func(names map[string]string, msps []string) string {
		out := make([]string, len(msps))
		for i, m := range msps {
			out[i] = displayName(names, m)
		}
		return strings.Join(out, ", ")
	},
	// evidence lists the kinds of EUDR evidence attached, each once, in
	// the order first attached: the page says what kinds exist, not how
	// many files (three land titles read "land title").
	"evidence": func(docs []shipment.Document) []string {
		var out []string
		for _, d := range docs {
			if shipment.IsEUDREvidence(d.Type) && !slices.Contains(out, d.Type) {
				out = append(out, d.Type)
			}
		}
		return out
	},
	"hashes": func(d *Detail) string { return strings.ToLower(strings.Join(d.Documents, " ")) },
	"minutes": func(l lang, m float64) string {
		if m >= 120 {
			return l.Num(m/60, 1) + " h"
		}
		return l.Num(m, 0) + " min"
	},
	"add":   func(a, b float64) float64 { return a + b },
	"sub":   func(a, b float64) float64 { return a - b },
	"plotW": func(c Chart) float64 { return c.Right - c.Left },
	"deref": func(f *float64) float64 {
		if f == nil {
			return 0
		}
		return *f
	},
}

func displayName(names map[string]string, msp string) string {
	if n := names[msp]; n != "" {
		return n
	}
	return msp
}
