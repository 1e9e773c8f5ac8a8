package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignInStartsASessionWhoseCookieHoldsNoKey(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	w := b.do(http.MethodPost, "/console/signin", url.Values{"key": {carrierKey}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/" {
		t.Fatalf("sign-in: %d %q", w.Code, w.Header().Get("Location"))
	}
	c := b.cookie
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" || c.Secure || c.MaxAge != int((8*time.Hour).Seconds()) {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/console, not Secure without TLS, Max-Age 8h", c)
	}
	if strings.Contains(c.Value, carrierKey) || len(c.Value) < 40 {
		t.Errorf("cookie value %q: want an opaque random ID", c.Value)
	}
	page := b.do(http.MethodGet, "/console/", nil)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "carrier-desk") {
		t.Fatalf("list after sign-in: %d %s", page.Code, page.Body)
	}
	if strings.Contains(page.Body.String(), carrierKey) {
		t.Error("the page shows the API key")
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

func TestCookieIsSecureWhenTheGatewayServesTLS(t *testing.T) {
	h := newHarness(t, Options{TLS: true})
	b := h.browser("10.0.0.1")
	b.do(http.MethodPost, "/console/signin", url.Values{"key": {carrierKey}},
		header("Origin", "https://gw.example"))
	if b.cookie == nil || !b.cookie.Secure {
		t.Fatalf("cookie %+v: want Secure", b.cookie)
	}
}

func TestWrongKeyStartsNoSession(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	for _, key := range []string{"", "nope", carrierKey + "x"} {
		w := b.do(http.MethodPost, "/console/signin", url.Values{"key": {key}})
		if w.Code != http.StatusUnauthorized || b.cookie != nil || h.console.sessions.len() != 0 {
			t.Errorf("key %q: %d, cookie %v, %d sessions", key, w.Code, b.cookie, h.console.sessions.len())
		}
	}
}

// TestRefusedAttacks sends each attack as raw HTTP and checks it is refused
// and writes nothing: the hand-over it carries never reaches the ledger.
func TestRefusedAttacks(t *testing.T) {
	handOver := func(csrf string) url.Values { return url.Values{"csrf": {csrf}, "toMSP": {"RetailerMSP"}} }
	tests := []struct {
		name   string
		attack func(h *harness, victim *browser, csrf string) int
		want   int
	}{
		{"no cookie", func(h *harness, _ *browser, csrf string) int {
			return h.browser("10.6.6.6").do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf)).Code
		}, http.StatusUnauthorized},
		{"forged session ID", func(h *harness, _ *browser, csrf string) int {
			a := h.browser("10.6.6.6")
			a.cookie = &http.Cookie{Name: cookieName, Value: randomToken()}
			return a.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf)).Code
		}, http.StatusUnauthorized},
		{"idle session", func(h *harness, v *browser, csrf string) int {
			h.clock.advance(30 * time.Minute)
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf)).Code
		}, http.StatusUnauthorized},
		{"session past its lifetime though in use", func(h *harness, v *browser, csrf string) int {
			for range 17 {
				h.clock.advance(29 * time.Minute)
				if w := v.do(http.MethodGet, "/console/", nil); w.Code != http.StatusOK {
					t.Fatalf("a used session ended early: %d", w.Code)
				}
			}
			h.clock.advance(20 * time.Minute) // 8h03m since sign-in, 20 min idle
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf)).Code
		}, http.StatusUnauthorized},
		{"missing CSRF token", func(_ *harness, v *browser, _ string) int {
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", url.Values{"toMSP": {"RetailerMSP"}}).Code
		}, http.StatusForbidden},
		{"wrong CSRF token", func(_ *harness, v *browser, _ string) int {
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(randomToken())).Code
		}, http.StatusForbidden},
		{"CSRF token of another session", func(h *harness, v *browser, _ string) int {
			other := h.browser("10.0.0.9").signIn(carrierKey)
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(other)).Code
		}, http.StatusForbidden},
		{"cross-site Origin with a valid token", func(_ *harness, v *browser, csrf string) int {
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf),
				header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "")).Code
		}, http.StatusForbidden},
		{"cross-site fetch with a valid token", func(_ *harness, v *browser, csrf string) int {
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf),
				header("Origin", ""), header("Sec-Fetch-Site", "cross-site")).Code
		}, http.StatusForbidden},
		{"revoked key", func(h *harness, v *browser, csrf string) int {
			if err := h.srv.SetKeys(keys()[1:]); err != nil {
				t.Fatal(err)
			}
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", handOver(csrf)).Code
		}, http.StatusUnauthorized},
		{"token in the query string instead of the form", func(_ *harness, v *browser, csrf string) int {
			return v.do(http.MethodPost, "/console/shipments/SHP-C-001/handover?csrf="+csrf, url.Values{"toMSP": {"RetailerMSP"}}).Code
		}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			victim := h.browser("10.0.0.1")
			csrf := victim.signIn(carrierKey)
			if got := tt.attack(h, victim, csrf); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
			if w := h.ledger.writes(); len(w) != 0 {
				t.Errorf("the attack reached the ledger: %+v", w)
			}
		})
	}
}

func TestSessionFixationGetsAFreshID(t *testing.T) {
	h := newHarness(t, Options{})
	// The attacker signs in with his own key and plants his session's ID
	// in the victim's browser; the victim then signs in with hers.
	attacker := h.browser("10.6.6.6")
	attacker.signIn(buyerKey)
	planted := attacker.cookie.Value
	victim := h.browser("10.0.0.1")
	victim.cookie = &http.Cookie{Name: cookieName, Value: planted}
	victim.signIn(carrierKey)
	if victim.cookie.Value == planted {
		t.Fatal("sign-in kept the planted session ID")
	}
	// The planted ID is over: it does not become the victim's session.
	if w := attacker.do(http.MethodGet, "/console/", nil); strings.Contains(w.Body.String(), "carrier-desk") || strings.Contains(w.Body.String(), "Sign out") {
		t.Errorf("the planted ID still opens a session: %s", w.Body)
	}
	// An ID the attacker made up is never taken either.
	v2 := h.browser("10.0.0.2")
	v2.cookie = &http.Cookie{Name: cookieName, Value: "attacker-chosen-id"}
	v2.signIn(carrierKey)
	if v2.cookie.Value == "attacker-chosen-id" {
		t.Fatal("sign-in took the attacker's ID")
	}
}

func TestSignInFromAnotherSiteIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	w := b.do(http.MethodPost, "/console/signin", url.Values{"key": {carrierKey}}, header("Origin", "https://evil.example"))
	if w.Code != http.StatusForbidden || b.cookie != nil {
		t.Fatalf("login CSRF: %d, cookie %v", w.Code, b.cookie)
	}
}

func TestSignInIsRateLimitedPerClientAddress(t *testing.T) {
	h := newHarness(t, Options{SignInRate: 0.1, SignInBurst: 3})
	a := h.browser("10.6.6.6")
	for i := range 3 {
		if w := a.do(http.MethodPost, "/console/signin", url.Values{"key": {"guess"}}); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	// The right key from the same address now waits too, and a forged
	// X-Forwarded-For does not make a new address.
	for _, opt := range []reqOpt{header("X-Forwarded-For", "1.2.3.4"), header("X-Real-Ip", "1.2.3.5")} {
		w := a.do(http.MethodPost, "/console/signin", url.Values{"key": {carrierKey}}, opt)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || a.cookie != nil {
			t.Fatalf("after the burst: %d, cookie %v", w.Code, a.cookie)
		}
	}
	if b := h.browser("10.0.0.1"); b.do(http.MethodPost, "/console/signin", url.Values{"key": {carrierKey}}).Code != http.StatusSeeOther {
		t.Error("another address was limited too")
	}
	h.clock.advance(10 * time.Second) // one token back
	if w := a.do(http.MethodPost, "/console/signin", url.Values{"key": {carrierKey}}); w.Code != http.StatusSeeOther {
		t.Errorf("after waiting: %d", w.Code)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	csrf := b.signIn(carrierKey)
	old := b.cookie
	if w := b.do(http.MethodPost, "/console/logout", url.Values{"csrf": {"wrong"}}); w.Code != http.StatusForbidden {
		t.Fatalf("logout without the token: %d", w.Code)
	}
	w := b.do(http.MethodPost, "/console/logout", url.Values{"csrf": {csrf}})
	if w.Code != http.StatusSeeOther || b.cookie != nil {
		t.Fatalf("logout: %d, cookie %v", w.Code, b.cookie)
	}
	b.cookie = old // a copy of the cookie kept by an attacker
	if w := b.do(http.MethodGet, "/console/shipments/SHP-C-001", nil); w.Code != http.StatusSeeOther {
		t.Errorf("the signed-out session still opens a shipment: %d", w.Code)
	}
}

func TestSessionsAreBoundedInMemory(t *testing.T) {
	h := newHarness(t, Options{MaxSessions: 2})
	first := h.browser("10.0.0.1")
	first.signIn(carrierKey)
	h.clock.advance(time.Minute)
	h.browser("10.0.0.2").signIn(carrierKey)
	h.clock.advance(time.Minute)
	h.browser("10.0.0.3").signIn(buyerKey)
	if n := h.console.sessions.len(); n != 2 {
		t.Fatalf("%d sessions held, want 2", n)
	}
	if w := first.do(http.MethodGet, "/console/shipments/SHP-C-001", nil); w.Code != http.StatusSeeOther {
		t.Errorf("the session idle longest was kept: %d", w.Code)
	}
}
