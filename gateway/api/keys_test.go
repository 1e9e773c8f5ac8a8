package api

import (
	"crypto/sha256"
	"testing"
)

// TestKeysChangeWithoutARestart: after SetKeys a new key is accepted and a
// removed one refused, by the same server; a bad set changes nothing.
func TestKeysChangeWithoutARestart(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	const loggerKey = "carrier-logger-9-key-0123456789abcdef"
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(loggerKey)); rec.Code != 401 {
		t.Fatalf("a key not yet issued: %d", rec.Code)
	}
	keys := append(testKeys()[1:], Key{Name: "carrier-logger-9", Hash: sha256.Sum256([]byte(loggerKey)),
		Identity: "carrier.logger-9", MSPID: "CarrierMSP", Role: "sensor"})
	if err := h.srv.SetKeys(keys); err != nil {
		t.Fatal(err)
	}
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(loggerKey)); rec.Code != 200 {
		t.Fatalf("the new key: %d", rec.Code)
	}
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(exporterKey)); rec.Code != 401 {
		t.Fatalf("the removed key: %d, want 401", rec.Code)
	}
	dup := append(keys, keys[0])
	if err := h.srv.SetKeys(dup); err == nil {
		t.Fatal("a key configured twice was accepted")
	}
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(loggerKey)); rec.Code != 200 {
		t.Fatalf("after a refused set: %d, want the keys as before", rec.Code)
	}
}
