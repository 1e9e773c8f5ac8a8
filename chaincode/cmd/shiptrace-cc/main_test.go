package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

func TestServerFromEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, ca := write("cert.pem", "CERT"), write("key.pem", "KEY"), write("ca.pem", "CA")
	tests := []struct {
		name      string
		env       map[string]string
		wantErr   string
		tls, mtls bool
	}{
		{"plain", map[string]string{"CHAINCODE_ID": "shiptrace_1.0:abc"}, "", false, false},
		{"tls", map[string]string{"CHAINCODE_ID": "id", "CHAINCODE_TLS_CERT": cert, "CHAINCODE_TLS_KEY": key}, "", true, false},
		{"mutual tls", map[string]string{"CHAINCODE_ID": "id", "CHAINCODE_TLS_CERT": cert, "CHAINCODE_TLS_KEY": key, "CHAINCODE_TLS_CLIENT_CA": ca}, "", true, true},
		{"missing id", map[string]string{}, "CHAINCODE_ID must be set", false, false},
		{"cert without key", map[string]string{"CHAINCODE_ID": "id", "CHAINCODE_TLS_CERT": cert}, "must be set together", false, false},
		{"client CA without server TLS", map[string]string{"CHAINCODE_ID": "id", "CHAINCODE_TLS_CLIENT_CA": ca}, "needs CHAINCODE_TLS_CERT", false, false},
		{"unreadable key", map[string]string{"CHAINCODE_ID": "id", "CHAINCODE_TLS_CERT": cert, "CHAINCODE_TLS_KEY": filepath.Join(dir, "nope")}, "read CHAINCODE_TLS_KEY", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := serverFromEnv("127.0.0.1:0", func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.CCID != tt.env["CHAINCODE_ID"] || s.TLSProps.Disabled == tt.tls || (len(s.TLSProps.ClientCACerts) > 0) != tt.mtls {
				t.Fatalf("server = %+v", s)
			}
		})
	}
}

func TestClockTolerance(t *testing.T) {
	if d, err := clockTolerance(""); err != nil || d != shipment.DefaultClockTolerance {
		t.Fatalf("default: %v %v", d, err)
	}
	if d, err := clockTolerance("90s"); err != nil || d != 90*time.Second {
		t.Fatalf("90s: %v %v", d, err)
	}
	for _, bad := range []string{"5", "-1m", "0s", "soon"} {
		if _, err := clockTolerance(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
