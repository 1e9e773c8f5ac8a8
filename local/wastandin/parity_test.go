package wastandin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
)

func serve(t *testing.T, cfg wastandin.Config) (*wastandin.Server, string) {
	t.Helper()
	cfg.Token, cfg.PhoneNumberID = "tok", "555"
	s := wastandin.New(cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts.URL
}

type answer struct {
	status int
	Error  struct {
		Code int `json:"code"`
	} `json:"error"`
	Contacts []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
}

func sendTo(t *testing.T, url string, body map[string]any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url+"/v23.0/555/messages", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &a)
	a.status = resp.StatusCode
	return a
}

func text(v string) map[string]any    { return map[string]any{"type": "text", "text": v} }
func payload(v string) map[string]any { return map[string]any{"type": "payload", "payload": v} }

// shipped is the notifier's default shipment_shipped message: five body
// parameters, a url button at 0, a quick-reply STOP at 1 and Status at 2.
func shipped(to, lang string, mutate func(components []map[string]any) []map[string]any) map[string]any {
	comps := []map[string]any{
		{"type": "body", "parameters": []any{text("Ana"), text("SHP-1"), text("Coffee"), text("Hamburg"), text("2026-12-10")}},
		{"type": "button", "sub_type": "url", "index": "0", "parameters": []any{text("SHP-1")}},
		{"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": []any{payload("STOP")}},
		{"type": "button", "sub_type": "quick_reply", "index": "2", "parameters": []any{payload("STATUS:SHP-1")}},
	}
	if mutate != nil {
		comps = mutate(comps)
	}
	return map[string]any{"messaging_product": "whatsapp", "to": to, "type": "template",
		"template": map[string]any{"name": "shipment_shipped", "language": map[string]any{"code": lang}, "components": comps}}
}

func TestTheNotifiersDefaultTemplatesAreRegisteredByDefault(t *testing.T) {
	_, url := serve(t, wastandin.Config{})
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   int
	}{
		{"the default message is accepted", shipped("+34600000001", "pt_BR", nil), 200, 0},
		{"a language the template is not approved in", shipped("+34600000001", "it", nil), 400, 132001},
		{"one body parameter short", shipped("+34600000001", "en", func(c []map[string]any) []map[string]any {
			c[0]["parameters"] = c[0]["parameters"].([]any)[:4]
			return c
		}), 400, 132000},
		{"the quick-reply button left out", shipped("+34600000001", "en", func(c []map[string]any) []map[string]any { return c[:2] }), 400, 131008},
		{"the Status button left out", shipped("+34600000001", "en", func(c []map[string]any) []map[string]any { return append(c[:2:2], c[3]) }), 400, 131008},
		{"a payload given to the url button", shipped("+34600000001", "en", func(c []map[string]any) []map[string]any {
			c[1]["parameters"] = []any{payload("SHP-1")}
			return c
		}), 400, 131009},
		{"buttons swapped", shipped("+34600000001", "en", func(c []map[string]any) []map[string]any {
			c[1]["sub_type"], c[2]["sub_type"] = "quick_reply", "url"
			return c
		}), 400, 131009},
		{"the A/B variant of the default (shipment_shipped_v2)", func() map[string]any {
			m := shipped("+34600000001", "de", nil)
			m["template"].(map[string]any)["name"] = "shipment_shipped_v2"
			return m
		}(), 200, 0},
		{"an unknown template name", func() map[string]any {
			m := shipped("+34600000001", "en", nil)
			m["template"].(map[string]any)["name"] = "shipment_sent"
			return m
		}(), 400, 132001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sendTo(t, url, tt.body)
			if a.status != tt.status || a.Error.Code != tt.code {
				t.Errorf("answered %d code %d, want %d code %d", a.status, a.Error.Code, tt.status, tt.code)
			}
		})
	}
}

func TestABrazilianNumberWithTheNinthDigitHasAWaIDWithoutIt(t *testing.T) {
	s, url := serve(t, wastandin.Config{})
	a := sendTo(t, url, shipped("+5511987654321", "pt_BR", nil))
	if a.status != 200 || len(a.Contacts) != 1 || a.Contacts[0].WaID != "551187654321" || a.Contacts[0].Input != "+5511987654321" {
		t.Fatalf("answer %+v, want contacts [{+5511987654321 551187654321}]", a)
	}
	if r := s.Accepted()[0]; r.To != "5511987654321" || r.WaID != "551187654321" {
		t.Errorf("record to %s wa_id %s", r.To, r.WaID)
	}
	if a := sendTo(t, url, shipped("+34600000001", "en", nil)); a.Contacts[0].WaID != "34600000001" {
		t.Errorf("a Spanish number's wa_id is %s", a.Contacts[0].WaID)
	}
}

func TestThePairRateLimitAnswers131056(t *testing.T) {
	_, url := serve(t, wastandin.Config{PairInterval: time.Hour, PairBurst: 2})
	for i := range 2 {
		if a := sendTo(t, url, shipped("+34600000001", "en", nil)); a.status != 200 {
			t.Fatalf("message %d within the burst answered %d code %d", i+1, a.status, a.Error.Code)
		}
	}
	if a := sendTo(t, url, shipped("+34600000001", "en", nil)); a.status != 429 || a.Error.Code != 131056 {
		t.Errorf("third message to one user answered %d code %d, want 429 131056", a.status, a.Error.Code)
	}
	if a := sendTo(t, url, shipped("+34600000002", "en", nil)); a.status != 200 {
		t.Errorf("another user answered %d code %d", a.status, a.Error.Code)
	}
}

func TestAFailedStatusFaultReportsItsCodeByWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = b
		mu.Unlock()
	}))
	defer hook.Close()
	s, url := serve(t, wastandin.Config{WebhookURL: hook.URL, AutoStatuses: []string{"sent", "delivered"}})
	s.AddFault(wastandin.Fault{Kind: wastandin.FaultFailedStatus, Code: 131000})
	if a := sendTo(t, url, shipped("+34600000001", "en", nil)); a.status != 200 {
		t.Fatalf("answered %d", a.status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		b := got
		mu.Unlock()
		if bytes.Contains(b, []byte(`"status":"failed"`)) && bytes.Contains(b, []byte(`"code":131000`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed status with code 131000 by webhook; last %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
