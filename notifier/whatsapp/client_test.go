package whatsapp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		status int
		want   notifier.FailureClass
	}{
		{"throughput limit lowers the rate", 130429, 429, notifier.Throttled},
		{"pair rate limit is retried", 131056, 400, notifier.Transient},
		{"WABA rate limit is retried", 80007, 400, notifier.Transient},
		{"something went wrong is retried", 131000, 500, notifier.Transient},
		{"service unavailable is retried", 131016, 503, notifier.Transient},
		{"undeliverable is permanent", 131026, 400, notifier.Permanent},
		{"parameter count mismatch is permanent", 132000, 400, notifier.Permanent},
		{"unknown template is permanent", 132001, 400, notifier.Permanent},
		{"missing parameter is permanent", 131008, 400, notifier.Permanent},
		{"invalid parameter is permanent", 100, 400, notifier.Permanent},
		{"re-engagement is permanent", 131047, 400, notifier.Permanent},
		{"expired token pauses sending", 190, 401, notifier.Paused},
		{"permission denied pauses sending", 10, 403, notifier.Paused},
		{"unknown code with 5xx is retried", 999999, 502, notifier.Transient},
		{"unknown code with 4xx is permanent", 999999, 400, notifier.Permanent},
		{"unknown code with 401 pauses", 999999, 401, notifier.Paused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := whatsapp.Classify(tt.code, tt.status); got != tt.want {
				t.Errorf("Classify(%d, %d) = %s, want %s", tt.code, tt.status, got, tt.want)
			}
		})
	}
}

func TestParseErrorReadsMetaShape(t *testing.T) {
	body := []byte(`{"error":{"message":"(#131026) Message undeliverable","type":"OAuthException","code":131026,"error_subcode":2494055,"error_data":{"messaging_product":"whatsapp","details":"Message Undeliverable."},"fbtrace_id":"AbC123"}}`)
	se := whatsapp.ParseError(400, body)
	if se.Class != notifier.Permanent || se.Code != 131026 || se.Details != "Message Undeliverable." || se.TraceID != "AbC123" || se.HTTPStatus != 400 {
		t.Fatalf("ParseError = %+v", se)
	}
}

func TestParseErrorClassifiesNonMetaBodiesByStatus(t *testing.T) {
	if se := whatsapp.ParseError(502, []byte("<html>bad gateway</html>")); se.Class != notifier.Uncertain {
		t.Errorf("502 html: class %s, want uncertain", se.Class)
	}
	if se := whatsapp.ParseError(404, []byte("not found")); se.Class != notifier.Permanent {
		t.Errorf("404 text: class %s, want permanent", se.Class)
	}
}

// testTemplates approves message()'s template: two body parameters, a
// url button at 0 and a quick-reply button at 1.
var testTemplates = map[string]wastandin.TemplateSpec{"shipment_shipped": {Languages: []string{"en", "pt_BR"}, BodyParams: 2,
	Buttons: []wastandin.ButtonSpec{{SubType: "url", Index: 0}, {SubType: "quick_reply", Index: 1}}}}

func newStandin(t *testing.T, cfg wastandin.Config) (*wastandin.Server, string) {
	t.Helper()
	s := wastandin.New(cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts.URL
}

func message() notifier.Message {
	return notifier.Message{
		To: "+49 151 2345 6789", Template: "shipment_shipped", Language: "pt_BR", CallbackData: "tx1/shipment.shipped/buyer",
		Components: []notifier.Component{
			{Type: "body", Parameters: []notifier.Parameter{{Type: "text", Text: "Ana"}, {Type: "text", Text: "SHP-1"}}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []notifier.Parameter{{Type: "text", Text: "SHP-1"}}},
			{Type: "button", SubType: "quick_reply", Index: "1", Parameters: []notifier.Parameter{{Type: "payload", Payload: "STOP"}}},
		},
	}
}

func TestSendDeliversTheDocumentedRequestShape(t *testing.T) {
	s, url := newStandin(t, wastandin.Config{Token: "tok", PhoneNumberID: "555",
		Templates: testTemplates})
	c := whatsapp.New(url, "v23.0", "555", func() (string, error) { return "tok", nil })
	res, err := c.Send(context.Background(), message())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.Accepted()
	if len(got) != 1 {
		t.Fatalf("stand-in accepted %d messages, want 1", len(got))
	}
	r := got[0]
	if r.WAMID != res.MessageID || r.To != "4915123456789" || r.Template != "shipment_shipped" || r.Language != "pt_BR" || r.CallbackData != "tx1/shipment.shipped/buyer" {
		t.Errorf("record = %+v, result %+v", r, res)
	}
	if len(r.Components) != 3 {
		t.Errorf("components = %d, want 3", len(r.Components))
	}
}

func TestSendClassifiesStandinRefusals(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		phoneID   string
		mutate    func(*notifier.Message)
		fault     *wastandin.Fault
		wantClass notifier.FailureClass
		wantCode  int
	}{
		{name: "wrong token pauses", token: "bad", phoneID: "555", wantClass: notifier.Paused, wantCode: 190},
		{name: "wrong phone number id pauses", token: "tok", phoneID: "666", wantClass: notifier.Paused, wantCode: 100},
		{name: "unknown template is permanent", token: "tok", phoneID: "555", mutate: func(m *notifier.Message) { m.Template = "nope" }, wantClass: notifier.Permanent, wantCode: 132001},
		{name: "unapproved language is permanent", token: "tok", phoneID: "555", mutate: func(m *notifier.Message) { m.Language = "de" }, wantClass: notifier.Permanent, wantCode: 132001},
		{name: "wrong parameter count is permanent", token: "tok", phoneID: "555", mutate: func(m *notifier.Message) { m.Components[0].Parameters = m.Components[0].Parameters[:1] }, wantClass: notifier.Permanent, wantCode: 132000},
		{name: "empty text parameter is permanent", token: "tok", phoneID: "555", mutate: func(m *notifier.Message) { m.Components[0].Parameters[0].Text = "" }, wantClass: notifier.Permanent, wantCode: 131008},
		{name: "button without sub_type is permanent", token: "tok", phoneID: "555", mutate: func(m *notifier.Message) { m.Components[1].SubType = "" }, wantClass: notifier.Permanent, wantCode: 131008},
		{name: "throttling lowers the rate", token: "tok", phoneID: "555", fault: &wastandin.Fault{Kind: wastandin.FaultError, Code: 130429}, wantClass: notifier.Throttled, wantCode: 130429},
		{name: "server error is retried", token: "tok", phoneID: "555", fault: &wastandin.Fault{Kind: wastandin.FaultError, Code: 131000}, wantClass: notifier.Transient, wantCode: 131000},
		{name: "undeliverable is permanent", token: "tok", phoneID: "555", fault: &wastandin.Fault{Kind: wastandin.FaultError, Code: 131026}, wantClass: notifier.Permanent, wantCode: 131026},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := newStandin(t, wastandin.Config{Token: "tok", PhoneNumberID: "555",
				Templates: testTemplates})
			if tt.fault != nil {
				s.AddFault(*tt.fault)
			}
			c := whatsapp.New(url, "v23.0", tt.phoneID, func() (string, error) { return tt.token, nil })
			m := message()
			if tt.mutate != nil {
				tt.mutate(&m)
			}
			_, err := c.Send(context.Background(), m)
			var se *notifier.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v, want a SendError", err)
			}
			if se.Class != tt.wantClass || se.Code != tt.wantCode {
				t.Errorf("got class %s code %d (%s), want %s %d", se.Class, se.Code, se.Message, tt.wantClass, tt.wantCode)
			}
			if len(s.Accepted()) != 0 {
				t.Errorf("stand-in accepted a refused message")
			}
		})
	}
}

func TestSendTimeoutAfterAcceptanceIsUncertain(t *testing.T) {
	s, url := newStandin(t, wastandin.Config{Token: "tok", PhoneNumberID: "555", Templates: testTemplates})
	s.AddFault(wastandin.Fault{Kind: wastandin.FaultLostAnswer})
	c := whatsapp.New(url, "v23.0", "555", func() (string, error) { return "tok", nil },
		whatsapp.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
	_, err := c.Send(context.Background(), message())
	if notifier.ClassOf(err) != notifier.Uncertain {
		t.Fatalf("lost answer: class %s (%v), want uncertain", notifier.ClassOf(err), err)
	}
	if len(s.Accepted()) != 1 {
		t.Fatalf("the stand-in should have accepted the message whose answer was lost")
	}
}

func TestSendToUnreachableHostIsTransient(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	c := whatsapp.New(url, "v23.0", "555", func() (string, error) { return "tok", nil })
	_, err := c.Send(context.Background(), message())
	if notifier.ClassOf(err) != notifier.Transient {
		t.Fatalf("connection refused: class %s (%v), want transient", notifier.ClassOf(err), err)
	}
}
