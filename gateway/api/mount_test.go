package api

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestMountedPageNeedsNoKeyAndItsTokenStaysOutOfTheLogs mounts a route like
// the tracking page's: it is served without an API key, and the access log
// and metrics name its route, never the token in its path.
func TestMountedPageNeedsNoKeyAndItsTokenStaysOutOfTheLogs(t *testing.T) {
	h := &harness{t: t, ledger: &fakeLedger{}, logs: &syncBuffer{}, path: filepath.Join(t.TempDir(), "journal.db"),
		now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	h.opts = func(o *Options) {
		o.Mount = []func(*echo.Echo){func(e *echo.Echo) {
			e.GET("/track/:token", func(c echo.Context) error { return c.String(http.StatusOK, "page") })
		}}
	}
	h.open()
	const token = "AWVjcmV0LXRva2VuLXRoYXQtb3BlbnMtYS1wYWdl"
	req := httptest.NewRequest(http.MethodGet, "/track/"+token, nil)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "page" {
		t.Fatalf("mounted page without a key: %d %s", rec.Code, rec.Body)
	}
	var metrics strings.Builder
	mrec := httptest.NewRecorder()
	h.srv.MetricsHandler().ServeHTTP(mrec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics.WriteString(mrec.Body.String())
	if !strings.Contains(h.logs.String(), `"path":"/track/:token"`) || !strings.Contains(metrics.String(), `route="/track/:token"`) {
		t.Errorf("access log or metrics do not name the route:\n%s", h.logs)
	}
	if strings.Contains(h.logs.String(), token) || strings.Contains(metrics.String(), token) {
		t.Error("the token reached the access log or the metrics")
	}
}
