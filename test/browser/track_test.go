// Package browser_test opens the public tracking page in headless Chromium
// (Debian's /usr/bin/chromium, driven with chromedp; nothing downloads a
// browser) against the running system, the way a buyer does from WhatsApp.
package browser_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiptrace/shiptrace/local/walk"
)

// chromium is Debian's package (.ci/run installs it when missing).
const chromium = "/usr/bin/chromium"

// browser starts a fresh headless Chromium that trusts the gateway's
// certificate by its public key (so the page is a secure context and Web
// Crypto works) and nothing else.
func browser(t *testing.T, gatewayCert string) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s: %v (apt-get install -y chromium)", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	}
	if gatewayCert != "" {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki(t, gatewayCert)))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// spki is the base64 SHA-256 of a certificate's public key, as Chromium's
// --ignore-certificate-errors-spki-list takes it.
func spki(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestTrackPageOnAPhone follows the Track button of the buyer's WhatsApp
// message on a 360 px phone screen: the timeline and the chart with its
// breach show, the right certificate matches the ledger and another file
// does not, the buyer's number and name appear nowhere in the HTML, and the
// whole page transfers under 100 KB. It writes track-360.png to
// $SHIPTRACE_SCREENSHOTS (default: the test's temporary directory).
func TestTrackPageOnAPhone(t *testing.T) {
	sys, c, ctx := runningSystem(t)
	tr, err := sys.TrackedBreach(ctx, c, "BRW")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	right, wrong := filepath.Join(dir, "certificate.pdf"), filepath.Join(dir, "forged.pdf")
	if err := os.WriteFile(right, walk.CertificateFile(tr.ID), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrong, append(walk.CertificateFile(tr.ID), '!'), 0o600); err != nil {
		t.Fatal(err)
	}
	tb := openTab(t, sys)
	bctx, do, eval := tb.ctx, tb.do, tb.eval
	checkFile := func(path, class string) string {
		t.Helper()
		do("check "+filepath.Base(path), chromedp.SetUploadFiles(chromedp.ID("check-file"), []string{path}))
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("check-result").className === "`+class+`"`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("%s: the check never said %q: %v", filepath.Base(path), class, err)
		}
		text, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("check-result")))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}

	do("open the Track link on a phone", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile),
		chromedp.Navigate(sys.GatewayURL+"/track/"+tr.Token), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	title, _ := chromedp.Run(bctx, chromedp.Title())
	steps := eval(`document.querySelectorAll("ol.timeline li").length`)
	breach := eval(`document.querySelector("svg.chart line.breach") !== null && document.querySelector("svg.chart polyline") !== null`)
	sec := eval(`window.isSecureContext`)
	right1 := checkFile(right, "ok")
	wrong1 := checkFile(wrong, "bad")
	html, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	bytesIn, _ := eval(`performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((n, e) => n + e.transferSize, 0)`).(float64)
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	eval(`document.querySelectorAll("details").forEach(d => d.open = true)`) // the readings table too
	tb.assertContrast("tracking page")
	t.Logf("%q: %v timeline steps, %.0f bytes transferred, right file: %q, wrong file: %q", title, steps, bytesIn, right1, wrong1)
	if sec != true {
		t.Error("the page is not a secure context: Web Crypto is unavailable")
	}
	if n, _ := steps.(float64); n < 5 || breach != true {
		t.Errorf("timeline steps %d (want create, document, ship, hand-over, breach), chart with breach %v", steps, breach)
	}
	if !strings.Contains(right1, walk.Certificate(tr.ID)["sha256"]) || !strings.Contains(right1, "stimmt mit einem Dokument") {
		t.Errorf("the right file: %q", right1)
	}
	if !strings.Contains(wrong1, "keinem Dokument") {
		t.Errorf("the wrong file: %q", wrong1)
	}
	for _, secret := range []string{tr.Contact.Phone, walk.Digits(tr.Contact.Phone), tr.Contact.Name} {
		if strings.Contains(html, secret) {
			t.Errorf("the page's HTML contains %q", secret)
		}
	}
	if bytesIn <= 0 || bytesIn > 100*1024 {
		t.Errorf("%.0f bytes transferred, want under 100 KB", bytesIn)
	}
	saveScreenshot(t, "track-360.png", png)
}
