// Package console serves the member console on each member's gateway:
// sign-in with the member's API key, a server-side session in a cookie,
// the shipment list, the detail view of the tracking page and the actions
// the key's role allows. Every read and write goes through the REST API's
// own routes and middleware in-process (api.Server.Do), signed by the
// key's Fabric identity: the console is a face of the API, not a second
// one. See README.md for the session and CSRF design and the limits.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/shipment"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// API is what the console needs of the REST API: the key store and an
// in-process call as a key (*api.Server implements it).
type API interface {
	KeyFor(secret string) (api.Key, bool)
	KeyByHash(hash [32]byte) (api.Key, bool)
	Do(ctx context.Context, caller api.Key, r *http.Request) api.Response
}

// Options assembles a Console.
type Options struct {
	// Ledger and Pages give the detail view (web.ReadDetail, read as the
	// signed-in key's identity, and the tracking page's "detail" template).
	Ledger web.Ledger
	Pages  *web.Pages
	Logger *slog.Logger
	Now    func() time.Time
	// TLS says the gateway serves HTTPS: the cookie is then Secure and the
	// expected Origin is https.
	TLS         bool
	SessionTTL  time.Duration // from sign-in (default 8h)
	IdleTimeout time.Duration // since the last request (default 30m)
	MaxSessions int           // held in memory (default 1,000)
	// SignInRate and SignInBurst bound sign-in attempts per client address
	// (default 0.1/s, i.e. 6 a minute, burst 5).
	SignInRate  float64
	SignInBurst int
}

// Console is the member console.
type Console struct {
	o        Options
	api      atomic.Pointer[API]
	sessions *sessions
	limiter  *signInLimiter
	tmpl     *template.Template
}

// Path is where the console lives; its cookie is scoped to it.
const Path = "/console"

const cookieName = "shiptrace_console"

// contentSecurityPolicy: the console's own style and scripts only, forms
// posted only to itself, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// maxFormBytes bounds a form, file uploads included.
const maxFormBytes = 1 << 20

// New builds the console. Attach the API before serving.
func New(o Options) (*Console, error) {
	if o.Ledger == nil || o.Pages == nil {
		return nil, errors.New("console: a ledger and the tracking pages are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 8 * time.Hour
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 1000
	}
	if o.SignInRate <= 0 {
		o.SignInRate = 0.1
	}
	if o.SignInBurst <= 0 {
		o.SignInBurst = 5
	}
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Console{o: o, sessions: newSessions(o.MaxSessions, o.SessionTTL, o.IdleTimeout),
		limiter: newSignInLimiter(o.SignInRate, o.SignInBurst), tmpl: t}, nil
}

// Attach gives the console the API it acts through. The API is built with
// the console's Mount among its routes, hence after it.
func (c *Console) Attach(a API) { c.api.Store(&a) }

// Mount adds the console's routes to e (api.Options.Mount).
func (c *Console) Mount(e *echo.Echo) {
	e.GET(Path, func(ec echo.Context) error { return ec.Redirect(http.StatusMovedPermanently, Path+"/") })
	e.GET(Path+"/", c.list, c.headers, c.optionalSession)
	e.POST(Path+"/signin", c.signIn, c.headers)
	e.POST(Path+"/logout", c.logout, c.headers, c.requireSession, c.checkCSRF)
	e.GET(Path+"/shipments/:id", c.detail, c.headers, c.requireSession)
	e.POST(Path+"/shipments/:id/:action", c.act, c.headers, c.requireSession, c.checkCSRF)
	assets, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix(Path+"/assets/", http.FileServer(http.FS(assets)))
	e.GET(Path+"/assets/*", func(ec echo.Context) error {
		if strings.HasSuffix(ec.Request().URL.Path, "/") {
			return ec.NoContent(http.StatusNotFound)
		}
		ec.Response().Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(ec.Response(), ec.Request())
		return nil
	}, c.headers)
}

func (c *Console) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		h := ec.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Robots-Tag", "noindex, nofollow")
		h.Set("Cache-Control", "no-store")
		return next(ec)
	}
}

const (
	ctxSession = "console.session"
	ctxKey     = "console.key"
	ctxID      = "console.id"
)

// current finds the request's live session and the key it acts as: a
// session whose key was revoked (SetKeys) is over.
func (c *Console) current(r *http.Request) (string, session, api.Key, bool) {
	a := c.api.Load()
	ck, err := r.Cookie(cookieName)
	if a == nil || err != nil {
		return "", session{}, api.Key{}, false
	}
	s, ok := c.sessions.get(ck.Value, c.o.Now())
	if !ok {
		return "", session{}, api.Key{}, false
	}
	k, ok := (*a).KeyByHash(s.keyHash)
	if !ok {
		c.sessions.end(ck.Value)
		return "", session{}, api.Key{}, false
	}
	return ck.Value, s, k, true
}

func (c *Console) optionalSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if id, s, k, ok := c.current(ec.Request()); ok {
			ec.Set(ctxSession, s)
			ec.Set(ctxKey, k)
			ec.Set(ctxID, id)
		}
		return next(ec)
	}
}

// requireSession sends a request without a live session to the sign-in
// page (a GET) or refuses it (anything else).
func (c *Console) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return c.optionalSession(func(ec echo.Context) error {
		if _, ok := ec.Get(ctxSession).(session); !ok {
			if ec.Request().Method == http.MethodGet {
				return ec.Redirect(http.StatusSeeOther, Path+"/")
			}
			return c.refuse(ec, http.StatusUnauthorized, "Not signed in", "Your session is over or was never started. Sign in again.")
		}
		return next(ec)
	})
}

// checkCSRF refuses a state-changing request from another site or without
// the session's token.
func (c *Console) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		r := ec.Request()
		r.Body = http.MaxBytesReader(ec.Response(), r.Body, maxFormBytes)
		if !sameOrigin(r, c.o.TLS) {
			return c.refuse(ec, http.StatusForbidden, "Refused", "This request did not come from the console's own pages.")
		}
		s, _ := ec.Get(ctxSession).(session)
		if !tokenMatches(r.PostFormValue("csrf"), s.csrf) {
			return c.refuse(ec, http.StatusForbidden, "Refused", "The form is out of date or was not sent by the console. Reload the page and try again.")
		}
		return next(ec)
	}
}

// signIn checks the posted key against the gateway's key store and starts
// a new session: whatever cookie came with the request is ignored and its
// session ended (no fixation).
func (c *Console) signIn(ec echo.Context) error {
	r := ec.Request()
	r.Body = http.MaxBytesReader(ec.Response(), r.Body, 4096)
	if !sameOrigin(r, c.o.TLS) {
		return c.refuse(ec, http.StatusForbidden, "Refused", "This request did not come from the console's own pages.")
	}
	a := c.api.Load()
	if a == nil {
		return c.refuse(ec, http.StatusServiceUnavailable, "Not ready", "The console is starting. Try again in a moment.")
	}
	if !c.limiter.allow(clientAddr(r), c.o.Now()) {
		ec.Response().Header().Set("Retry-After", "60")
		return c.renderSignIn(ec, http.StatusTooManyRequests, "Too many sign-in attempts from your address. Wait a minute.")
	}
	k, ok := (*a).KeyFor(r.PostFormValue("key"))
	if !ok {
		c.o.Logger.WarnContext(r.Context(), "console sign-in refused", slog.String("remote", clientAddr(r)))
		return c.renderSignIn(ec, http.StatusUnauthorized, "That API key is not valid.")
	}
	if old, err := r.Cookie(cookieName); err == nil {
		c.sessions.end(old.Value)
	}
	id, _ := c.sessions.create(k.Hash, c.o.Now())
	c.setCookie(ec, id, int(c.o.SessionTTL/time.Second))
	c.o.Logger.InfoContext(r.Context(), "console sign-in", slog.String("caller", k.Name), slog.String("remote", clientAddr(r)))
	return ec.Redirect(http.StatusSeeOther, Path+"/")
}

func (c *Console) logout(ec echo.Context) error {
	c.sessions.end(ec.Get(ctxID).(string))
	c.setCookie(ec, "", -1)
	return ec.Redirect(http.StatusSeeOther, Path+"/")
}

func (c *Console) setCookie(ec echo.Context, value string, maxAge int) {
	ec.SetCookie(&http.Cookie{Name: cookieName, Value: value, Path: Path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.o.TLS, SameSite: http.SameSiteStrictMode})
}

// view is what the console's templates see.
type view struct {
	Key      api.Key
	CSRF     string
	Error    string
	Problem  *api.Problem
	List     *listing
	Ship     *shipment.Shipment
	Claims   []shipment.Claim // the buyer's claims on Ship (digests only)
	Detail   template.HTML
	Actions  []action
	Done     string
	Statuses []shipment.Status
	// DocumentTypes are the contract's, offered as a choice rather than
	// typed and refused.
	DocumentTypes []string
}

func (c *Console) render(ec echo.Context, status int, name string, v view) error {
	var b bytes.Buffer
	if err := c.tmpl.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	return ec.HTMLBlob(status, b.Bytes())
}

func (c *Console) renderSignIn(ec echo.Context, status int, msg string) error {
	return c.render(ec, status, "signin", view{Error: msg})
}

// refuse answers a refused request with a plain page that says why.
func (c *Console) refuse(ec echo.Context, status int, title, detail string) error {
	return c.render(ec, status, "refused", view{Problem: &api.Problem{Title: title, Detail: detail, Status: status}})
}

// viewFor starts a view for the signed-in key.
func viewFor(ec echo.Context) view {
	s, _ := ec.Get(ctxSession).(session)
	k, _ := ec.Get(ctxKey).(api.Key)
	return view{Key: k, CSRF: s.csrf, Statuses: statuses, DocumentTypes: shipment.DocumentTypes}
}

var statuses = []shipment.Status{shipment.StatusCreated, shipment.StatusShipped, shipment.StatusInTransit,
	shipment.StatusDelivered, shipment.StatusRejected, shipment.StatusCancelled}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}
