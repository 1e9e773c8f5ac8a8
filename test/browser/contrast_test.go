package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// textColours lists every visible element that holds text, with the colour
// Chromium computed for its text (fill for SVG text) and the background it
// is drawn on: the element's own background and its ancestors', composited
// from the page's white up, as a reader sees them. Hidden text (a closed
// <details>, display:none) is left out: it is checked where a test opens it.
const textColours = `(() => {
  const rgba = s => {
    const m = /rgba?\(([^)]*)\)/.exec(s || "");
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  const out = [], seen = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    const cs = getComputedStyle(el);
    if (cs.visibility !== "visible" || el.getClientRects().length === 0 || el.closest("details:not([open]) > :not(summary)")) continue;
    const bg = background(el);
    out.push({
      text: n.textContent.trim().slice(0, 40), tag: el.tagName.toLowerCase(), class: el.getAttribute("class") || "",
      fg: over(rgba(el instanceof SVGElement ? cs.fill : cs.color) || [0, 0, 0, 1], bg), bg: bg,
      size: parseFloat(cs.fontSize), weight: parseInt(cs.fontWeight, 10),
    });
  }
  return JSON.stringify(out);
})()`

// textColour is one element's text as textColours reports it.
type textColour struct {
	Text   string     `json:"text"`
	Tag    string     `json:"tag"`
	Class  string     `json:"class"`
	FG     [4]float64 `json:"fg"`
	BG     [4]float64 `json:"bg"`
	Size   float64    `json:"size"`
	Weight int        `json:"weight"`
}

// luminance is WCAG 2.x relative luminance of an sRGB colour (0-255).
func luminance(c [4]float64) float64 {
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}

// contrast is WCAG's contrast ratio of two colours, 1 to 21.
func contrast(a, b [4]float64) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// lowContrast reads the page's text colours in the tab and returns every
// element below WCAG 2.2 AA (1.4.3): 4.5:1, or 3:1 for large text (at
// least 24 px, or 18.66 px bold), and how many elements it checked.
func (b tab) lowContrast() (failures []string, checked int) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](textColours))
	if err != nil {
		b.t.Fatalf("read the page's text colours: %v", err)
	}
	var els []textColour
	if err := json.Unmarshal([]byte(raw), &els); err != nil {
		b.t.Fatalf("text colours: %v", err)
	}
	for _, e := range els {
		need := 4.5
		if e.Size >= 24 || (e.Size >= 18.66 && e.Weight >= 700) {
			need = 3
		}
		if r := contrast(e.FG, e.BG); r < need {
			failures = append(failures, fmt.Sprintf("<%s class=%q> %q: %.2f:1 (rgb%v on rgb%v), want %.1f:1",
				e.Tag, e.Class, e.Text, r, e.FG[:3], e.BG[:3], need))
		}
	}
	return failures, len(els)
}

// assertContrast fails the test for every text on the page below WCAG AA.
func (b tab) assertContrast(page string) {
	b.t.Helper()
	failures, checked := b.lowContrast()
	b.t.Logf("%s: %d elements with text checked for WCAG AA contrast", page, checked)
	if checked == 0 {
		b.t.Errorf("%s: no text found to check", page)
	}
	if len(failures) > 0 {
		b.t.Errorf("%s: %d texts below WCAG AA contrast:\n%s", page, len(failures), strings.Join(failures, "\n"))
	}
}

// TestContrastRatioFollowsWCAG pins the formula to WCAG's own figures.
func TestContrastRatioFollowsWCAG(t *testing.T) {
	white, black := [4]float64{255, 255, 255, 1}, [4]float64{0, 0, 0, 1}
	for _, c := range []struct {
		fg   [4]float64
		want float64
	}{
		{black, 21},
		{white, 1},
		{[4]float64{0x76, 0x76, 0x76, 1}, 4.54}, // #767676: the lightest grey that passes on white
		{[4]float64{0x77, 0x77, 0x77, 1}, 4.48}, // #777777 fails
	} {
		if got := contrast(c.fg, white); math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%v, white) = %.3f, want %.2f", c.fg[:3], got, c.want)
		}
	}
}

// TestContrastCheckFindsLowContrastText shows that the page check can fail:
// in Chromium, a grey text on white, a light text on a semi-transparent
// badge and an SVG label are caught, and black text and large grey text
// that meets 3:1 are not.
func TestContrastCheckFindsLowContrastText(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium")
	}
	ctx, cancel := context.WithTimeout(browser(t, ""), time.Minute)
	defer cancel()
	page := `<!doctype html><body style="background:#fff">
<p id=ok>black on white</p>
<p style="color:#777">grey 777 on white</p>
<p style="color:#767676;font-size:24px">large grey</p>
<p><span style="background:rgba(0,0,0,.5);color:#555">on a half-black badge</span></p>
<svg width=100 height=20><text x=0 y=15 style="fill:#aaa">svg label</text></svg>
<details><summary>summary</summary><p style="color:#eee">hidden until opened</p></details>
</body>`
	tb := tab{t: t, ctx: ctx}
	tb.do("open the test page", chromedp.Navigate("data:text/html,"+url.PathEscape(page)), chromedp.WaitVisible(chromedp.ID("ok")))
	failures, checked := tb.lowContrast()
	t.Logf("%d checked:\n%s", checked, strings.Join(failures, "\n"))
	want := []string{"grey 777 on white", "on a half-black badge", "svg label"}
	if checked != 6 || len(failures) != len(want) {
		t.Fatalf("%d elements checked (want 6), %d failures (want %d)", checked, len(failures), len(want))
	}
	for i, w := range want {
		if !strings.Contains(failures[i], w) {
			t.Errorf("failure %d is %q, want %q", i, failures[i], w)
		}
	}
}
