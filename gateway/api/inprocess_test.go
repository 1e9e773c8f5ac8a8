package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestKeyForChecksTheCurrentKeySet(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	if k, ok := h.srv.KeyFor(carrierKey); !ok || k.Name != "carrier-app" {
		t.Fatalf("KeyFor(carrier) = %+v, %v", k, ok)
	}
	for _, bad := range []string{"", "nope", carrierKey + " "} {
		if _, ok := h.srv.KeyFor(bad); ok {
			t.Errorf("KeyFor(%q) accepted", bad)
		}
	}
	k, _ := h.srv.KeyFor(carrierKey)
	if err := h.srv.SetKeys(testKeys()[:1]); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.srv.KeyByHash(k.Hash); ok {
		t.Error("a revoked key is still found by its hash")
	}
}

// TestDoActsAsTheGivenKeyThroughTheMiddleware: an in-process call is
// authenticated by the caller passed to Do, still validated, and writes as
// that key's identity; no header sets that caller from outside.
func TestDoActsAsTheGivenKeyThroughTheMiddleware(t *testing.T) {
	ledger := &fakeLedger{}
	h := newHarness(t, ledger)
	carrier, _ := h.srv.KeyFor(carrierKey)
	r := httptest.NewRequest(http.MethodPost, "/v1/shipments/SHP-1/handover", strings.NewReader(`{"toMSP":"RetailerMSP"}`))
	r.Header.Set("Content-Type", "application/json")
	res := h.srv.Do(context.Background(), carrier, r)
	if res.Status != http.StatusOK {
		t.Fatalf("hand-over in-process: %d %s", res.Status, res.Body)
	}
	calls := ledger.Calls()
	if len(calls) != 1 || calls[0].Tx != "HandOver" || calls[0].Identity != "carrier" {
		t.Fatalf("calls %+v: want one HandOver as carrier", calls)
	}
	bad := httptest.NewRequest(http.MethodPost, "/v1/shipments/SHP-1/handover", strings.NewReader(`{"toMSP":"no such msp"}`))
	bad.Header.Set("Content-Type", "application/json")
	if res := h.srv.Do(context.Background(), carrier, bad); res.Status != http.StatusBadRequest && res.Status != http.StatusUnprocessableEntity {
		t.Errorf("an invalid body in-process: %d %s", res.Status, res.Body)
	}
	rec := h.do(http.MethodPost, "/v1/shipments/SHP-1/ship", "", withHeader("Authorization", ""))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("over HTTP without a key: %d", rec.Code)
	}
	if len(ledger.Calls()) != 1 {
		t.Errorf("refused requests reached the ledger: %+v", ledger.Calls())
	}
}
