package wastandin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func textTo(to, body string) map[string]any {
	return map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
		"text": map[string]any{"preview_url": false, "body": body}}
}

func buttonsTo(to string, n int) map[string]any {
	var bs []any
	for i := range n {
		bs = append(bs, map[string]any{"type": "reply", "reply": map[string]any{"id": "B" + string(rune('0'+i)), "title": "Option " + string(rune('A'+i))}})
	}
	return map[string]any{"messaging_product": "whatsapp", "to": to, "type": "interactive",
		"interactive": map[string]any{"type": "button", "body": map[string]any{"text": "Pick one"}, "action": map[string]any{"buttons": bs}}}
}

// TestFreeFormOnlyInsideTheWindow: a text or interactive message reaches a
// user only within 24 hours of the user's last message, by the stand-in's
// clock; otherwise 131047, as Meta answers. Templates are not affected.
func TestFreeFormOnlyInsideTheWindow(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer hook.Close()
	s, url := serve(t, wastandin.Config{Now: clock.Now, WebhookURL: hook.URL})
	const user = "+34600000001"

	if a := sendTo(t, url, textTo(user, "hello")); a.status != 400 || a.Error.Code != 131047 {
		t.Fatalf("before any message from the user: %d code %d, want 400 131047", a.status, a.Error.Code)
	}
	if _, err := s.PostInboundMessage(context.Background(), wastandin.Inbound{From: user, Text: "status"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(23*time.Hour + 59*time.Minute)
	if a := sendTo(t, url, textTo(user, "your order is on its way")); a.status != 200 {
		t.Fatalf("inside the window: %d code %d", a.status, a.Error.Code)
	}
	if a := sendTo(t, url, buttonsTo(user, 3)); a.status != 200 {
		t.Fatalf("interactive inside the window: %d code %d", a.status, a.Error.Code)
	}
	if a := sendTo(t, url, textTo("+34600000002", "hello")); a.Error.Code != 131047 {
		t.Fatalf("another user's window: code %d, want 131047", a.Error.Code)
	}
	clock.Add(2 * time.Minute)
	if a := sendTo(t, url, textTo(user, "late")); a.status != 400 || a.Error.Code != 131047 {
		t.Fatalf("after 24 hours: %d code %d, want 131047", a.status, a.Error.Code)
	}
	if a := sendTo(t, url, shipped(user, "en", nil)); a.status != 200 {
		t.Fatalf("a template outside the window: %d code %d", a.status, a.Error.Code)
	}
	var texts []string
	for _, r := range s.Accepted() {
		texts = append(texts, r.Type+":"+r.Text)
	}
	if strings.Join(texts, "|") != "text:your order is on its way|interactive:Pick one|template:" {
		t.Fatalf("accepted = %v", texts)
	}
}

// TestFreeFormShapeIsValidated: free-form bodies are checked as Meta
// checks them, inside the window too.
func TestFreeFormShapeIsValidated(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer hook.Close()
	s, url := serve(t, wastandin.Config{WebhookURL: hook.URL})
	const user = "+34600000001"
	if err := s.PostInbound(context.Background(), user, "hi"); err != nil {
		t.Fatal(err)
	}
	list := func(rows int, title string) map[string]any {
		var rs []any
		for i := range rows {
			rs = append(rs, map[string]any{"id": "R" + string(rune('a'+i)), "title": title})
		}
		return map[string]any{"messaging_product": "whatsapp", "to": user, "type": "interactive",
			"interactive": map[string]any{"type": "list", "body": map[string]any{"text": "Pick"},
				"action": map[string]any{"button": "Choose", "sections": []any{map[string]any{"title": "S", "rows": rs}}}}}
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"empty text", textTo(user, " "), 131008},
		{"text too long", textTo(user, strings.Repeat("x", 4097)), 131009},
		{"four buttons", buttonsTo(user, 4), 131009},
		{"a list of eleven rows", list(11, "Row"), 131009},
		{"a row title of 25 characters", list(1, strings.Repeat("r", 25)), 131009},
		{"text with an interactive part", func() map[string]any { m := textTo(user, "x"); m["interactive"] = map[string]any{}; return m }(), 100},
		{"image", map[string]any{"messaging_product": "whatsapp", "to": user, "type": "image", "image": map[string]any{"id": "1"}}, 100},
		{"a good list", list(10, "Row"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := sendTo(t, url, tc.body)
			if a.Error.Code != tc.code {
				t.Fatalf("answered %d code %d, want code %d", a.status, a.Error.Code, tc.code)
			}
		})
	}
}

// TestMediaEndpointsNeedTheToken: GET /{version}/{media-id} gives a URL,
// which serves the bytes, both only with the bearer token.
func TestMediaEndpointsNeedTheToken(t *testing.T) {
	s, url := serve(t, wastandin.Config{})
	photo := []byte("\xff\xd8\xff\xe0 a small jpeg")
	id := s.AddMedia("image/jpeg", photo)
	get := func(u, token string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(url+"/v23.0/"+id, ""); code != 401 {
		t.Fatalf("media info without a token: %d", code)
	}
	code, b := get(url+"/v23.0/"+id, "tok")
	var info struct {
		URL, MIMEType, SHA256 string
		FileSize              int `json:"file_size"`
	}
	_ = json.Unmarshal(b, &info)
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	info.URL, _ = raw["url"].(string)
	sum := sha256.Sum256(photo)
	if code != 200 || info.URL == "" || raw["sha256"] != hex.EncodeToString(sum[:]) || info.FileSize != len(photo) {
		t.Fatalf("media info: %d %s", code, b)
	}
	if code, _ := get(info.URL, "wrong"); code != 401 {
		t.Fatalf("download with a wrong token: %d", code)
	}
	if code, got := get(info.URL, "tok"); code != 200 || string(got) != string(photo) {
		t.Fatalf("download: %d %q", code, got)
	}
	if code, _ := get(url+"/v23.0/999", "tok"); code != 400 {
		t.Fatalf("unknown media: %d", code)
	}
}
