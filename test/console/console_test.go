// Package console_test attacks the member console on the running system
// (`shipnet up`: the gateway process, over its TLS listener, on the real
// ledger) with raw HTTP, and checks each attempt is refused and changes
// nothing on the ledger, the cookie is Secure, and the key is in no log.
package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// post sends a form as a browser of the console's own pages would, with
// header changes applied, and without following the redirect.
func post(t *testing.T, c *walk.Client, path string, form url.Values, cookie *http.Cookie, header map[string]string) *http.Response {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", c.Base)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestConsoleRefusesEachAttackOnTheRunningSystem(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the running local system")
	}
	sys := testnet.Require(t).System(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := sys.ReadyClient(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Base, "https://") {
		t.Fatalf("the local gateway serves %s: this test checks the console under TLS", c.Base)
	}
	id := walk.NewID("CSA")
	if _, err := c.Create(ctx, walk.NewShipment(id, nil), walk.NewID("create")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "exporter", id, "ship", nil, walk.NewID("ship")); err != nil {
		t.Fatal(err)
	}

	key := sys.Keys["exporter"]
	res := post(t, c, "/console/signin", url.Values{"key": {key}}, nil, nil)
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "shiptrace_console" {
			session = ck
		}
	}
	if res.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in: %d, cookie %v", res.StatusCode, session)
	}
	if !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/console" {
		t.Errorf("cookie %+v: want Secure (TLS), HttpOnly, SameSite=Strict, Path=/console", session)
	}
	r, _ := http.NewRequest(http.MethodGet, c.Base+"/console/shipments/"+id, nil)
	r.AddCookie(session)
	page, err := c.HTTP.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := csrfField.FindSubmatch(body)
	if page.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("shipment page: %d, CSRF token found %v", page.StatusCode, m != nil)
	}
	csrf := string(m[1])

	handOver := "/console/shipments/" + id + "/handover"
	form := func(token string) url.Values { return url.Values{"csrf": {token}, "toMSP": {"CarrierMSP"}} }
	attacks := []struct {
		name   string
		cookie *http.Cookie
		form   url.Values
		header map[string]string
		want   int
	}{
		{"no cookie", nil, form(csrf), nil, http.StatusUnauthorized},
		{"forged session ID", &http.Cookie{Name: "shiptrace_console", Value: strings.Repeat("A", 43)}, form(csrf), nil, http.StatusUnauthorized},
		{"missing CSRF token", session, url.Values{"toMSP": {"CarrierMSP"}}, nil, http.StatusForbidden},
		{"wrong CSRF token", session, form(strings.Repeat("B", 43)), nil, http.StatusForbidden},
		{"cross-site Origin", session, form(csrf), map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": ""}, http.StatusForbidden},
		{"cross-site fetch", session, form(csrf), map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"plain-HTTP origin of the same host", session, form(csrf), map[string]string{"Origin": "http" + strings.TrimPrefix(c.Base, "https"), "Sec-Fetch-Site": ""}, http.StatusForbidden},
	}
	for _, a := range attacks {
		if res := post(t, c, handOver, a.form, a.cookie, a.header); res.StatusCode != a.want {
			t.Errorf("%s: %d, want %d", a.name, res.StatusCode, a.want)
		}
	}
	s, err := c.Shipment(ctx, "exporter", id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Custodian != "ExporterMSP" || s.Status != shipment.StatusShipped {
		t.Fatalf("after the refused attacks the ledger says custodian %s, %s", s.Custodian, s.Status)
	}
	if res := post(t, c, handOver, form(csrf), session, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the genuine hand-over: %d", res.StatusCode)
	}
	if s, err = c.Shipment(ctx, "exporter", id); err != nil || s.Custodian != "CarrierMSP" {
		t.Fatalf("after the genuine hand-over: custodian %s, %v", s.Custodian, err)
	}
	if res := post(t, c, "/console/logout", url.Values{"csrf": {csrf}}, session, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", res.StatusCode)
	}
	if res := post(t, c, "/console/shipments/"+id+"/deliver", form(csrf), session, nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a signed-out session still acts: %d", res.StatusCode)
	}
	logs, err := os.ReadFile(filepath.Join(sys.Home, "logs", "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logs), key) || strings.Contains(string(logs), session.Value) || strings.Contains(string(logs), csrf) {
		t.Error("the gateway log holds the API key, the session ID or the CSRF token")
	}
	if !strings.Contains(string(logs), `"route":"/console/shipments/:id/:action"`) {
		t.Error("the gateway log has no console request: the check above read the wrong log")
	}
}
