package decide_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/template"
)

func abRenderer(t *testing.T) *template.Renderer {
	t.Helper()
	spec := func(name string) template.Spec {
		return template.Spec{Name: name, Languages: []string{"en"}, Params: template.Params{Body: []string{"{{.Event.ShipmentID}}"}}}
	}
	r, err := template.New(map[string]template.Spec{"a": spec("tpl_a"), "b": spec("tpl_b"), "c": spec("tpl_c")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVariantsFollowTheWeightsAndStay draws 10,000 recipients: each keeps
// its variant, and the shares are within 2 percentage points of the weights.
func TestVariantsFollowTheWeightsAndStay(t *testing.T) {
	refs, _ := notifier.NewRefKey([]byte("variant-test-phone-reference-key-0123"))
	for _, weights := range [][2]int{{50, 50}, {80, 20}, {1, 1}} {
		rule := decide.Rule{Event: notifier.EventShipped, To: notifier.RoleBuyer, Variants: []decide.Variant{
			{Name: "A", Template: "a", Weight: weights[0]}, {Name: "B", Template: "b", Weight: weights[1]}}}
		d, err := decide.New(decide.Config{ExporterMSP: "ExporterMSP", Rules: []decide.Rule{rule}, Refs: refs}, abRenderer(t))
		if err != nil {
			t.Fatal(err)
		}
		const n = 10000
		got := map[string]int{}
		for i := range n {
			ref := refs.PhoneRef(fmt.Sprintf("+49151%08d", i))
			v := d.Variant(rule, ref)
			got[v.Name]++
			for range 3 {
				if again := d.Variant(rule, ref); again.Name != v.Name {
					t.Fatalf("recipient %d drew %s, then %s", i, v.Name, again.Name)
				}
			}
		}
		wantA := float64(weights[0]) / float64(weights[0]+weights[1])
		shareA := float64(got["A"]) / n
		if math.Abs(shareA-wantA) > 0.02 || got["A"]+got["B"] != n {
			t.Errorf("weights %v: A %d, B %d of %d (A share %.3f, want %.3f ± 0.02)", weights, got["A"], got["B"], n, shareA, wantA)
		}
		t.Logf("weights %v: A %d, B %d", weights, got["A"], got["B"])
	}
}

func TestPlanRecordsTheVariantAndItsTemplate(t *testing.T) {
	refs, _ := notifier.NewRefKey([]byte("variant-test-phone-reference-key-0123"))
	rule := decide.Rule{Event: notifier.EventShipped, To: notifier.RoleBuyer, Variants: []decide.Variant{
		{Name: "A", Template: "a", Weight: 1}, {Name: "B", Template: "b", Weight: 1}}}
	d, err := decide.New(decide.Config{ExporterMSP: "ExporterMSP", Rules: []decide.Rule{rule}, Refs: refs}, abRenderer(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for i := range 40 {
		buyer := &notifier.Contact{Phone: fmt.Sprintf("+4915100000%03d", i), Language: "en", Consent: true}
		e := ev(notifier.EventShipped, "ExporterMSP")
		ns := d.Plan(decide.Input{Chain: notifier.ChainEvent{TxID: "tx"}, Event: e, Rules: d.Relevant(e), Buyer: buyer, Now: now}, fakeView{})
		if len(ns) != 1 || ns[0].Status != notifier.StatusQueued {
			t.Fatalf("plan %+v", ns)
		}
		seen[ns[0].Variant] = ns[0].Message.Template
	}
	if seen["A"] != "tpl_a" || seen["B"] != "tpl_b" {
		t.Errorf("variants and their templates %v, want A→tpl_a and B→tpl_b", seen)
	}
	single := decide.Rule{Event: notifier.EventShipped, To: notifier.RoleBuyer, Template: "c"}
	d, _ = decide.New(decide.Config{ExporterMSP: "ExporterMSP", Rules: []decide.Rule{single}, Refs: refs}, abRenderer(t))
	if v := d.Variant(single, "any"); v.Name != decide.DefaultVariant || v.Template != "c" {
		t.Errorf("a rule without variants is %+v, want variant A with its template", v)
	}
}

func TestVariantsAreValidated(t *testing.T) {
	v := func(name, tpl string, w int) decide.Variant {
		return decide.Variant{Name: name, Template: tpl, Weight: w}
	}
	for name, tt := range map[string]struct {
		rule decide.Rule
		want string
	}{
		"duplicate name":         {decide.Rule{Variants: []decide.Variant{v("A", "a", 1), v("A", "b", 1)}}, "unique"},
		"zero weight":            {decide.Rule{Variants: []decide.Variant{v("A", "a", 1), v("B", "b", 0)}}, "weight"},
		"unknown template":       {decide.Rule{Variants: []decide.Variant{v("A", "a", 1), v("B", "nope", 1)}}, `"nope" is not configured`},
		"template not a variant": {decide.Rule{Template: "c", Variants: []decide.Variant{v("A", "a", 1), v("B", "b", 1)}}, "not one of its variants"},
	} {
		tt.rule.Event, tt.rule.To = notifier.EventShipped, notifier.RoleBuyer
		_, err := decide.New(decide.Config{ExporterMSP: "ExporterMSP", Rules: []decide.Rule{tt.rule}}, abRenderer(t))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, tt.want)
		}
	}
}
