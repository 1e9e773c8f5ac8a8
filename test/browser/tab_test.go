package browser_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// tab is one headless Chromium tab on the running system's gateway, for
// one test; each step fails the test with what it was doing.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// openTab starts a browser that trusts the gateway's TLS certificate, for
// at most two minutes.
func openTab(t *testing.T, sys *walk.System) tab {
	t.Helper()
	cert := ""
	if sys.GatewayCA != "" {
		cert = filepath.Join(filepath.Dir(sys.GatewayCA), "server.crt")
	}
	ctx, cancel := context.WithTimeout(browser(t, cert), 2*time.Minute)
	t.Cleanup(cancel)
	return tab{t: t, ctx: ctx}
}

// do runs steps.
func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval reads one value from the page.
func (b tab) eval(expr string) any {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// runningSystem is the running local system (started if needed) and a
// client that found its gateway ready, with four minutes for the test;
// under -short the test is skipped.
func runningSystem(t *testing.T) (*walk.System, *walk.Client, context.Context) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the running local system and Chromium")
	}
	sys := testnet.Require(t).System(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	c, err := sys.ReadyClient(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return sys, c, ctx
}

// saveScreenshot writes png as name to $SHIPTRACE_SCREENSHOTS (default: the
// test's temporary directory).
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	out := os.Getenv("SHIPTRACE_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	}
	shot := filepath.Join(out, name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", shot, len(png))
}
