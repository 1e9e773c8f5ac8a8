package browser_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestConsoleHandOver signs in to the member console at 1280 px with the
// exporter's API key, filters the list down to a freshly shipped shipment,
// opens it, hands it over to the carrier with the console's form and sees
// the hand-over in the timeline, read back from the ledger; then attaches a
// document by a file hashed in the browser and sees its digest. Neither the
// buyer's number nor name appears in any page, nor the API key. It writes
// console-1280.png to $SHIPTRACE_SCREENSHOTS (default: a temporary
// directory).
func TestConsoleHandOver(t *testing.T) {
	sys, c, ctx := runningSystem(t)
	id := walk.NewID("CON")
	contact := shipment.Contact{Phone: walk.NewPhone("+49152"), Name: "Greta " + walk.NewID("Privat"), Language: "de", Consent: true}
	if _, err := c.Create(ctx, walk.NewShipment(id, &contact), walk.NewID("create")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "exporter", id, "ship", nil, walk.NewID("ship")); err != nil {
		t.Fatal(err)
	}
	tb := openTab(t, sys)
	bctx, do := tb.ctx, tb.do
	var pages []string
	keep := func() {
		t.Helper()
		html, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, html)
	}

	do("open the sign-in page", chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(sys.GatewayURL+"/console/"), chromedp.WaitVisible(chromedp.ID("key")))
	tb.assertContrast("console sign-in")
	do("sign in", chromedp.SendKeys(chromedp.ID("key"), sys.Keys["exporter"]), chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.CSS("table.list")))
	keep()
	tb.assertContrast("console list")
	do("filter", chromedp.SetValue(chromedp.CSS(`select[name="status"]`), "SHIPPED"),
		chromedp.SendKeys(chromedp.CSS(`input[name="q"]`), id), chromedp.Submit(chromedp.CSS(`input[name="q"]`)))
	// The new shipment's link is on the unfiltered list too: wait for the
	// filtered page itself (its URL carries the search) before counting.
	// Asked from here, not with chromedp.Poll: the navigation destroys the
	// page's script context under a poll running in it.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		loaded, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`location.search.includes("q=`+id+`") && document.readyState === "complete"`))
		if err == nil && loaded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the filtered list did not load in 30 s (%v)", err)
		}
	}
	do("filtered list", chromedp.WaitVisible(chromedp.CSS(`a[href="/console/shipments/`+id+`"]`)))
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.querySelectorAll("table.list tbody tr").length`))
	if err != nil || rows != 1 {
		t.Fatalf("the filtered list has %v rows (%v), want 1", rows, err)
	}
	keep()
	do("open the shipment", chromedp.Click(chromedp.CSS(`a[href="/console/shipments/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="handover"] input[name="toMSP"]`)))
	do("hand over", chromedp.SendKeys(chromedp.CSS(`form[data-action="handover"] input[name="toMSP"]`), "CarrierMSP"),
		chromedp.Submit(chromedp.CSS(`form[data-action="handover"] input[name="toMSP"]`)),
		chromedp.WaitVisible(chromedp.CSS("p.done")))
	keep()
	tb.assertContrast("console detail after a hand-over")
	timeline, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("ol.timeline")))
	if err != nil {
		t.Fatal(err)
	}

	// Attach a document by a file hashed in the browser (hash.js): only
	// the digest is sent, and the ledger shows it.
	doc := filepath.Join(t.TempDir(), "certificate.pdf")
	if err := os.WriteFile(doc, walk.CertificateFile(id), 0o600); err != nil {
		t.Fatal(err)
	}
	digest := walk.Certificate(id)["sha256"]
	do("hash a file in the browser", chromedp.SetValue(chromedp.CSS(`form[data-action="documents"] select[name="type"]`), "certificate_of_origin"),
		chromedp.SetUploadFiles(chromedp.ID("doc-file"), []string{doc}))
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("doc-sha256").value === "`+digest+`"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the browser never filled in the file's SHA-256 %s: %v", digest, err)
	}
	do("attach the document", chromedp.Submit(chromedp.ID("doc-sha256")), chromedp.WaitVisible(chromedp.CSS("span.hash code")))
	docs, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("span.hash code")))
	if err != nil || docs != digest {
		t.Errorf("documents on the page %q (%v), want %s", docs, err, digest)
	}
	keep()

	// The whole page at exactly 1280 px: a viewport as tall as the page
	// leaves no scroll bar to take width.
	height, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatal(err)
	}
	do("size the viewport to the page", chromedp.EmulateViewport(1280, int64(height)))
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("timeline after the hand-over: %q", timeline)
	if !strings.Contains(timeline, "Handed over") || !strings.Contains(timeline, "→") {
		t.Errorf("no hand-over in the timeline: %q", timeline)
	}
	if gone := tb.eval(`document.querySelector('form[data-action="handover"]') === null`); gone != true {
		t.Error("the exporter is no longer the custodian, yet the page still offers the hand-over")
	}
	s, err := c.Shipment(ctx, "exporter", id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Custodian != "CarrierMSP" {
		t.Errorf("custodian on the ledger %q, want CarrierMSP", s.Custodian)
	}
	for _, html := range pages {
		for _, secret := range []string{contact.Phone, walk.Digits(contact.Phone), contact.Name, sys.Keys["exporter"]} {
			if strings.Contains(html, secret) {
				t.Errorf("a console page contains %q", secret)
			}
		}
	}
	saveScreenshot(t, "console-1280.png", png)
}
