package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestUpServesTheGatewayOverTLS: the gateway `up` starts speaks HTTPS with a
// certificate the exporter organisation's TLS CA issued for 127.0.0.1; a
// client that trusts that CA gets through with its API key, plain HTTP and
// clients that do not trust the CA do not.
func TestUpServesTheGatewayOverTLS(t *testing.T) {
	net := testnet.Require(t)
	local := net.Local(t)
	url := local.GatewayURL()
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("gateway URL %s, want https://127.0.0.1:<port>", url)
	}
	rootPEM, err := os.ReadFile(local.Layout.TLSCACert(topology.ExporterOrg))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("no certificate in the exporter's TLS CA root")
	}
	trusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	keys, err := local.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", url+"/v1/shipments/"+testnet.UniqueID("GW-TLS"), nil)
	req.Header.Set("X-API-Key", keys["exporter"])
	resp, err := trusting.Do(req)
	if err != nil {
		t.Fatalf("a client trusting the exporter's TLS CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("over TLS: %d (TLS %+v), want the contract's 404 over TLS 1.2+", resp.StatusCode, resp.TLS)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("certificate: %v", err)
	}

	// The same CA file `up` gives clients (the walk-through's --cacert).
	if ca, err := os.ReadFile(local.GatewayCA()); err != nil || string(ca) != string(rootPEM) {
		t.Errorf("GatewayCA %s (%v) is not the exporter's TLS CA root", local.GatewayCA(), err)
	}

	_, err = (&http.Client{Timeout: 10 * time.Second}).Get(url + "/healthz")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("a client without the CA: %v, want an unknown authority", err)
	}
	plain, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + strings.TrimPrefix(url, "https://") + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP answered 200")
		}
	}
}
