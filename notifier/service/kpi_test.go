package service_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/service"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestKPIsCountEachStageOnceOverRealHTTP sends three messages through the
// stand-in and drives their statuses with its signed webhooks: one is read,
// its link opened (the notifier's /t/ redirect) and answered; one is only
// delivered; one fails with 131026. Redelivered webhooks change nothing. The
// counts per template × language × variant on GET /v1/kpis and /metrics
// must match what happened to each message.
func TestKPIsCountEachStageOnceOverRealHTTP(t *testing.T) {
	const (
		readBuyer   = "+34600000011"
		deliveredTo = "+4915100000022"
		failingTo   = "+34600000033"
	)
	h := start(t, option{
		args: []string{"--tracking_secret=kpi-test-tracking-secret-0123456789abcdef", "--tracking_url=http://gateway.invalid/track/%s"},
		contacts: map[string]notifier.Contact{
			"SHP-K1": {Phone: readBuyer, Name: "Lucía", Language: "es", Consent: true},
			"SHP-K2": {Phone: deliveredTo, Name: "Jonas", Language: "de", Consent: true},
			"SHP-K3": {Phone: failingTo, Name: "Sara", Language: "es", Consent: true},
		},
	})
	h.standin.AddFault(wastandin.Fault{Kind: wastandin.FaultFailedStatus, Code: 131026, To: failingTo[1:], Count: 1})
	for _, id := range []string{"SHP-K1", "SHP-K2", "SHP-K3"} {
		h.emit(t, event(shipment.EventShipped, id))
	}
	eventually(t, 10*time.Second, "3 messages accepted", func() bool { return len(h.standin.Accepted()) == 3 })
	rec := map[string]wastandin.Record{}
	for _, r := range h.standin.Accepted() {
		rec["+"+r.To] = r
	}
	post := func(to, status string) {
		t.Helper()
		if err := h.standin.PostStatus(t.Context(), rec[to].WAMID, status, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []string{"sent", "delivered", "read", "delivered", "read", "sent"} { // the last three: redelivered
		post(readBuyer, st)
	}
	post(deliveredTo, "sent")
	post(deliveredTo, "delivered")
	post(deliveredTo, "delivered")
	eventually(t, 10*time.Second, "the failed status", func() bool {
		ns := h.notifications(t, "SHP-K3")
		return len(ns) == 1 && ns[0].Status == notifier.StatusFailed
	})

	// A click: the Track button's URL suffix is the signed token.
	var token string
	for _, c := range rec[readBuyer].Components {
		if c.Type == "button" && c.SubType == "url" {
			var p struct{ Text string }
			json.Unmarshal(c.Parameters[0], &p)
			token = p.Text
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + h.svc.WebhookAddr() + "/t/" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://gateway.invalid/track/"+token {
		t.Errorf("click: %d to %q, want 302 to the tracking page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A forged token is redirected but not counted.
	if resp, err := noFollow.Get("http://" + h.svc.WebhookAddr() + "/t/" + token[:len(token)-2] + "AA"); err == nil {
		resp.Body.Close()
	}
	// A reply (no context: matched to the last delivered message), twice:
	// the message is replied once.
	for range 2 {
		if err := h.standin.PostInbound(t.Context(), readBuyer, "gracias"); err != nil {
			t.Fatal(err)
		}
	}
	// And a message from someone never written to counts nothing.
	if err := h.standin.PostInbound(t.Context(), "+34600000099", "hola"); err != nil {
		t.Fatal(err)
	}

	// What each message's cohort must show.
	type counts struct{ accepted, sent, delivered, read, clicked, replied, failed131026 uint64 }
	want := map[[3]string]*counts{}
	cohort := func(id string) *counts {
		ns := h.notifications(t, id)
		if len(ns) != 1 {
			t.Fatalf("%s: %d notifications", id, len(ns))
		}
		k := [3]string{ns[0].Message.Template, ns[0].Message.Language, ns[0].Variant}
		if want[k] == nil {
			want[k] = &counts{}
		}
		return want[k]
	}
	c := cohort("SHP-K1")
	c.accepted, c.sent, c.delivered, c.read, c.clicked, c.replied = c.accepted+1, c.sent+1, c.delivered+1, c.read+1, c.clicked+1, c.replied+1
	c = cohort("SHP-K2")
	c.accepted, c.sent, c.delivered = c.accepted+1, c.sent+1, c.delivered+1
	c = cohort("SHP-K3")
	c.accepted, c.failed131026 = c.accepted+1, c.failed131026+1

	var got []service.KPIView
	eventually(t, 10*time.Second, "KPIs matching the messages", func() bool {
		code, body := h.admin(t, "/v1/kpis")
		var b struct {
			KPIs []service.KPIView `json:"kpis"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &b) != nil {
			return false
		}
		got = b.KPIs
		if len(got) != len(want) {
			return false
		}
		for _, k := range got {
			w := want[[3]string{k.Template, k.Language, k.Variant}]
			if w == nil || k.Accepted != w.accepted || k.Sent != w.sent || k.Delivered != w.delivered || k.Read != w.read ||
				k.Clicked != w.clicked || k.Replied != w.replied || k.Failed["131026"] != w.failed131026 {
				return false
			}
		}
		return true
	})
	for _, k := range got {
		if k.Template == "" || k.Variant == "" || (k.Language != "es" && k.Language != "de") {
			t.Errorf("cohort %+v", k.Cohort)
		}
		if k.Language == "es" && k.Read == 1 && (k.Rates.Read == nil || *k.Rates.Read != 1 || k.Rates.Replied == nil) {
			t.Errorf("rates of the read cohort: %+v", k.Rates)
		}
	}
	t.Logf("KPIs: %+v", got)

	// The same counts on /metrics, with no personal data in the labels.
	_, text := get(t, "http://"+h.svc.HealthAddr()+"/metrics", "")
	for k, w := range want {
		for stage, n := range map[string]uint64{"accepted": w.accepted, "read": w.read, "clicked": w.clicked, "replied": w.replied} {
			line := `shiptrace_notifier_kpi_messages_total{language="` + k[1] + `",stage="` + stage + `",template="` + k[0] + `",variant="` + k[2] + `"} ` + strconv.FormatUint(n, 10)
			if !strings.Contains(text, line) {
				t.Errorf("/metrics lacks %s", line)
			}
		}
	}
	if !strings.Contains(text, `code="131026"`) {
		t.Error("/metrics lacks the failure by code 131026")
	}
	for _, pii := range []string{"600000011", "4915100000022", "Lucía"} {
		if strings.Contains(text, pii) {
			t.Errorf("/metrics holds personal data %q", pii)
		}
	}
}
