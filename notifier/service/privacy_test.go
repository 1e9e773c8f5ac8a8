package service_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
)

func get(t testing.TB, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminAPIAnswersOnlyWithItsTokenAndHealthHasItsOwnPort(t *testing.T) {
	h := start(t, option{})
	admin := "http://" + h.svc.AdminAddr()
	for _, path := range []string{"/v1/status", "/v1/shipments/SHP-1/notifications", "/v1/notifications/tx/shipment.shipped/buyer"} {
		for _, token := range []string{"", "wrong-token-0123456789"} {
			if code, _ := get(t, admin+path, token); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", path, token, code)
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := h.admin(t, path); code != http.StatusNotFound {
			t.Errorf("GET %s on the admin port: %d, want 404 (health is on its own port)", path, code)
		}
	}
	if code, _ := h.admin(t, "/v1/status"); code != http.StatusOK {
		t.Errorf("GET /v1/status with the token: %d", code)
	}
	health := "http://" + h.svc.HealthAddr()
	if code, _ := get(t, health+"/healthz", ""); code != http.StatusOK {
		t.Errorf("GET /healthz on the health port without credentials: %d, want 200", code)
	}
	for _, path := range []string{"/v1/status", "/v1/shipments/SHP-1/notifications"} {
		if code, _ := get(t, health+path, h.token); code != http.StatusNotFound {
			t.Errorf("GET %s on the health port: %d, want 404", path, code)
		}
	}
}

func TestListingShowsNeitherNameNorPhoneDigits(t *testing.T) {
	h := start(t, option{
		standin: wastandin.Config{AutoStatuses: []string{"sent", "delivered"}},
		contacts: map[string]notifier.Contact{
			"SHP-1": {Phone: "+34611223344", Name: "Zoraida", Language: "es", Consent: true},
		},
	})
	h.emit(t, event(shipment.EventShipped, "SHP-1"))
	eventually(t, 10*time.Second, "delivered", func() bool {
		ns := h.notifications(t, "SHP-1")
		return len(ns) == 1 && ns[0].Status == notifier.StatusDelivered
	})
	_, body := h.admin(t, "/v1/shipments/SHP-1/notifications")
	_, one := h.admin(t, "/v1/notifications/"+h.notifications(t, "SHP-1")[0].ID)
	for what, text := range map[string]string{"listing": body, "notification": one} {
		if strings.Contains(text, "Zoraida") {
			t.Errorf("the %s shows the buyer's name: %s", what, text)
		}
		// Any run of 4 digits of the number, in whatever masking.
		for i := 0; i+4 <= len("34611223344"); i++ {
			if run := "34611223344"[i : i+4]; regexp.MustCompile(`\b` + run + `|` + run + `\b|\*` + run + `|` + run + `\*`).MatchString(text) {
				t.Errorf("the %s shows digits %s of the number: %s", what, run, text)
			}
		}
		if regexp.MustCompile(`\+34\*|\*44"`).MatchString(text) {
			t.Errorf("the %s shows a masked number: %s", what, text)
		}
		if strings.Contains(text, "wamid.") {
			t.Errorf("the %s shows Meta's message ID, which embeds the number: %s", what, text)
		}
	}
}
