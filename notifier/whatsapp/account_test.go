package whatsapp_test

import (
	"fmt"
	"testing"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
)

func metaError(code, subcode int) []byte {
	if subcode != 0 {
		return fmt.Appendf(nil, `{"error":{"message":"(#%d) x","type":"OAuthException","code":%d,"error_subcode":%d,"fbtrace_id":"T"}}`, code, code, subcode)
	}
	return fmt.Appendf(nil, `{"error":{"message":"(#%d) x","type":"OAuthException","code":%d,"fbtrace_id":"T"}}`, code, code)
}

// TestAccountLevelErrorsPauseTheAccount pins the codes that say the
// business account or number cannot send at all: failing each message one
// by one would burn every message's attempts until an operator acts.
func TestAccountLevelErrorsPauseTheAccount(t *testing.T) {
	tests := []struct {
		name            string
		status          int
		code, subcode   int
		want            notifier.FailureClass
		wantHintMention string
	}{
		{"API permission (200)", 403, 200, 0, notifier.Paused, "permission"},
		{"API permission (299)", 403, 299, 0, notifier.Paused, "permission"},
		{"business number not registered (133010)", 400, 133010, 0, notifier.Paused, "register"},
		{"account in maintenance (131057)", 400, 131057, 0, notifier.Paused, "maintenance"},
		{"wrong phone number ID (100/33)", 400, 100, 33, notifier.Paused, "provider.phone_number_id"},
		{"spam rate limit on the number (131048)", 400, 131048, 0, notifier.Paused, "quality"},
		{"a plain invalid parameter stays per message (100)", 400, 100, 0, notifier.Permanent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := whatsapp.ParseError(tt.status, metaError(tt.code, tt.subcode))
			if se.Class != tt.want {
				t.Fatalf("class %s, want %s", se.Class, tt.want)
			}
			if tt.wantHintMention != "" && !contains(se.Hint, tt.wantHintMention) {
				t.Errorf("operator hint %q does not mention %q", se.Hint, tt.wantHintMention)
			}
		})
	}
}

func TestThroughputLimitLowersTheRate(t *testing.T) {
	if se := whatsapp.ParseError(429, metaError(130429, 0)); se.Class != notifier.Throttled {
		t.Errorf("130429: class %s, want throttled", se.Class)
	}
}

func TestAmbiguousAnswersAreUncertain(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   notifier.FailureClass
	}{
		// A proxy's 502/504 says nothing about whether WhatsApp accepted.
		{"proxy 502 html", 502, "<html>Bad Gateway</html>", notifier.Uncertain},
		{"proxy 504 empty", 504, "", notifier.Uncertain},
		{"500 without Meta's envelope", 500, `{"status":"error"}`, notifier.Uncertain},
		// Meta's own envelope with a code is Meta refusing: no send happened.
		{"Meta's 131000 with its envelope", 500, string(metaError(131000, 0)), notifier.Transient},
		// An error object without a code is not an account problem.
		{"error without a code, 400", 400, `{"error":{"message":"Bad request"}}`, notifier.Permanent},
		{"error without a code, 503", 503, `{"error":{"message":"Service Unavailable"}}`, notifier.Uncertain},
		{"error without a code, 401", 401, `{"error":{"message":"Unauthorized"}}`, notifier.Paused},
		{"a proxy's 429", 429, "Too Many Requests", notifier.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if se := whatsapp.ParseError(tt.status, []byte(tt.body)); se.Class != tt.want {
				t.Errorf("class %s, want %s", se.Class, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
