package console

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Inline script or style would need a weaker Content-Security-Policy:
// every script must be an empty element with a src, and no element may
// carry an event handler or a style.
var (
	scriptTag = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	inlineAtt = regexp.MustCompile(`(?i)\son[a-z]+=|\sstyle=|<style`)
)

func inlineIn(body string) string {
	for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], `src="`) || strings.TrimSpace(m[2]) != "" {
			return m[0]
		}
	}
	return inlineAtt.FindString(body)
}

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	pages := map[string]string{"sign-in": b.do(http.MethodGet, "/console/", nil).Body.String()}
	b.signIn(buyerKey)
	pages["list"] = b.do(http.MethodGet, "/console/?status=SHIPPED", nil).Body.String()
	pages["shipment"] = b.do(http.MethodGet, "/console/shipments/SHP-C-003", nil).Body.String()
	for name, body := range pages {
		if m := inlineIn(body); m != "" {
			t.Errorf("%s page: inline %q", name, m)
		}
	}
	for _, bad := range []string{`<script>alert(1)</script>`, `<button onclick="x()">`, `<p style="color:red">`, `<script src="/a.js">x()</script>`} {
		if inlineIn(bad) == "" {
			t.Errorf("the check misses %s", bad)
		}
	}
	for _, asset := range []string{"/console/assets/hash.js", "/console/assets/console.css"} {
		if w := b.do(http.MethodGet, asset, nil); w.Code != http.StatusOK || w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d", asset, w.Code)
		}
	}
	if w := b.do(http.MethodGet, "/console/assets/", nil); w.Code != http.StatusNotFound {
		t.Errorf("asset directory listing: %d", w.Code)
	}
}
