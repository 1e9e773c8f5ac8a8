package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestDeviceKeysWithoutARestart: `shipnet identity issue` gives a new
// temperature logger a key the running gateway accepts within seconds, signing
// as the logger's own identity, and `revoke` takes it away again, both
// without restarting the gateway (the same process serves throughout).
func TestDeviceKeysWithoutARestart(t *testing.T) {
	net := testnet.Require(t)
	local := net.Local(t)
	pidFile := local.Layout.PIDFile("gateway")
	pid, ok := proc.Running(pidFile)
	if !ok {
		t.Fatal("the gateway is not running")
	}
	client := gatewayClient(t, local.GatewayCA())
	as := func(key, path string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", local.GatewayURL()+path, nil)
		req.Header.Set("X-API-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	within := func(what string, cond func() bool) {
		t.Helper()
		testnet.Eventually(t, 20*time.Second, what, cond)
	}

	name := testnet.UniqueID("logger")
	out := net.Shipnet(t, "identity", "issue", "--org", "CarrierMSP", "--name", name, "--role", "sensor")
	m := regexp.MustCompile(`gateway API key for ` + regexp.QuoteMeta(name) + `: (stk_[0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no API key printed:\n%s", out)
	}
	key := m[1]
	// The key authenticates, and the contract sees the logger's own
	// identity: a sensor may not read shipments (403), where an unknown
	// identity would be the gateway's failure.
	within("the new key to be accepted", func() bool { return as(key, "/v1/transactions/"+strings.Repeat("0", 64)) == 404 })
	if got := as(key, "/v1/shipments/"+testnet.UniqueID("GW-KEY")); got != 403 {
		t.Errorf("a sensor reading a shipment: %d, want the contract's 403", got)
	}

	net.Shipnet(t, "identity", "revoke", "--org", "CarrierMSP", "--name", name)
	within("the revoked key to be refused", func() bool { return as(key, "/v1/transactions/"+strings.Repeat("0", 64)) == 401 })

	if now, ok := proc.Running(pidFile); !ok || now != pid {
		t.Errorf("the gateway was restarted: pid %d, then %d (running %v)", pid, now, ok)
	}
	keys, err := local.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	if got := as(keys["exporter"], "/v1/transactions/"+strings.Repeat("0", 64)); got != 404 {
		t.Errorf("the exporter's key after the reloads: %d, want 404", got)
	}
}

// gatewayClient trusts the gateway's CA (plain HTTP when there is none).
func gatewayClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	if b, err := os.ReadFile(caFile); err == nil {
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	}
	return c
}
