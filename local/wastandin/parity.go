package wastandin

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/template"
)

// ButtonSpec is a template button that takes a parameter: a url button's
// dynamic suffix (a text parameter) or a quick_reply button's payload.
type ButtonSpec struct {
	SubType string `json:"subType"`
	Index   int    `json:"index"`
}

// FromNotifierTemplates registers the notifier's template specs as Meta
// would have approved them: name, languages, body parameter count, and
// buttons with their index and type.
func FromNotifierTemplates(specs map[string]template.Spec) map[string]TemplateSpec {
	out := map[string]TemplateSpec{}
	for _, s := range specs {
		ts := TemplateSpec{Languages: append([]string(nil), s.Languages...), BodyParams: len(s.Body), HeaderParams: len(s.Header)}
		for _, b := range s.Buttons {
			ts.Buttons = append(ts.Buttons, ButtonSpec{SubType: b.SubType, Index: b.Index})
		}
		sort.Slice(ts.Buttons, func(i, j int) bool { return ts.Buttons[i].Index < ts.Buttons[j].Index })
		out[s.Name] = ts
	}
	return out
}

// DefaultTemplates are the notifier's default templates
// (notifier/config.DefaultTemplates): the stand-in validates every message
// against them unless a test registers others or AnyTemplate is set.
func DefaultTemplates() map[string]TemplateSpec {
	return FromNotifierTemplates(config.DefaultTemplates())
}

// WaID is the WhatsApp ID the stand-in gives the account of a number
// (digits), modelling what Meta documents: the send response's
// contacts[].wa_id can differ from the input. A Brazilian mobile written
// with the ninth digit (55 AA 9XXXXXXXX) belongs, here, to an account
// registered before the ninth digit existed, whose wa_id lacks it; status
// webhooks carry that wa_id as recipient_id and the user's messages come
// from it. Config.WaIDs overrides single numbers.
func (s *Server) WaID(number string) string {
	d := digits(number)
	if w, ok := s.cfg.WaIDs[d]; ok {
		return w
	}
	if strings.HasPrefix(d, "55") && len(d) == 13 && d[4] == '9' {
		return d[:4] + d[5:]
	}
	return d
}

// pairLimiter models Meta's business/consumer pair rate limit (131056):
// a burst of PairBurst messages to one WhatsApp user, then one per
// PairInterval.
type pairLimiter struct {
	mu     sync.Mutex
	burst  int
	every  time.Duration
	tokens map[string]float64
	last   map[string]time.Time
}

func (p *pairLimiter) allow(waID string, now time.Time) bool {
	if p == nil || p.every <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.tokens[waID]
	if !ok {
		t = float64(p.burst)
	} else {
		t = min(float64(p.burst), t+now.Sub(p.last[waID]).Seconds()/p.every.Seconds())
	}
	p.last[waID] = now
	if t < 1 {
		p.tokens[waID] = t
		return false
	}
	p.tokens[waID] = t - 1
	return true
}

func newPairLimiter(burst int, every time.Duration) *pairLimiter {
	if every <= 0 {
		return nil
	}
	return &pairLimiter{burst: max(burst, 1), every: every, tokens: map[string]float64{}, last: map[string]time.Time{}}
}

// checkButtons compares a request's button components with the approved
// template's dynamic buttons: the same indexes and sub_types, and the
// parameter type each takes (text for url, payload for quick_reply).
func checkButtons(name string, spec TemplateSpec, got []Component) *APIError {
	want := map[int]string{}
	for _, b := range spec.Buttons {
		want[b.Index] = b.SubType
	}
	seen := map[int]bool{}
	for _, c := range got {
		if !strings.EqualFold(c.Type, "button") {
			continue
		}
		idx := 0
		if !validIndex(c.Index) {
			continue // refused earlier
		}
		idx = indexOf(c.Index)
		sub, ok := want[idx]
		if !ok {
			return NewError(132000, fmt.Sprintf("template %s has no button with a parameter at index %d", name, idx))
		}
		if sub != c.SubType {
			return NewError(131009, fmt.Sprintf("button %d of template %s is %s, not %s", idx, name, sub, c.SubType))
		}
		if len(c.Parameters) != 1 {
			return NewError(132000, fmt.Sprintf("button %d of template %s takes 1 parameter, got %d", idx, name, len(c.Parameters)))
		}
		wantType := "text"
		if sub == "quick_reply" {
			wantType = "payload"
		}
		if typ := paramType(c.Parameters[0]); typ != wantType {
			return NewError(131009, fmt.Sprintf("button %d of template %s takes a %s parameter, not %s", idx, name, wantType, typ))
		}
		seen[idx] = true
	}
	for idx := range want {
		if !seen[idx] {
			return NewError(131008, fmt.Sprintf("template %s: button %d needs a parameter", name, idx))
		}
	}
	return nil
}
