package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
)

// TestAWriteNamesItsBlockAndAReadWaitsForIt: the consistency token between
// members' separate gateways. The write's answer carries its block; a read
// sent with it waits until the reader's organisation's peer has it, and is
// answered 503 (retryable) when the peer stays behind.
func TestAWriteNamesItsBlockAndAReadWaitsForIt(t *testing.T) {
	l := &fakeLedger{}
	height := map[string]uint64{"retailer": 5}
	var asked []uint64
	l.waitForBlock = func(ctx context.Context, identity string, block uint64) error {
		asked = append(asked, block)
		if block < height[identity] {
			return nil
		}
		return &fabric.BehindError{MSPID: "RetailerMSP", Have: height[identity], Want: block}
	}
	h := newHarness(t, l)
	w := h.do(http.MethodPost, "/v1/shipments/SHP-1/ship", "")
	if w.Code != http.StatusOK || w.Header().Get("X-Committed-Block") != "7" {
		t.Fatalf("write: %d, X-Committed-Block %q, want 7", w.Code, w.Header().Get("X-Committed-Block"))
	}

	// The retailer's peer has blocks 0..4: block 7 is not there yet.
	r := h.do(http.MethodGet, "/v1/shipments/SHP-1", "", withKey(retailerKey), withHeader("X-Min-Block", "7"))
	p := problemOf(t, r)
	if r.Code != http.StatusServiceUnavailable || p.Type != "urn:shiptrace:problem:behind" || r.Header().Get("Retry-After") != "1" {
		t.Fatalf("behind: %d %+v Retry-After %q", r.Code, p, r.Header().Get("Retry-After"))
	}
	if n := len(l.Calls()); n != 1 {
		t.Errorf("a read held for a block reached the ledger: %d calls", n)
	}
	height["retailer"] = 8
	if r := h.do(http.MethodGet, "/v1/shipments/SHP-1", "", withKey(retailerKey), withHeader("X-Min-Block", "7")); r.Code != http.StatusOK {
		t.Fatalf("caught up: %d %s", r.Code, r.Body)
	}
	if r := h.do(http.MethodGet, "/v1/shipments/SHP-1", "", withKey(retailerKey)); r.Code != http.StatusOK || len(asked) != 2 {
		t.Fatalf("without the header: %d, %d waits (want 2: none for it)", r.Code, len(asked))
	}
	for _, bad := range []string{"seven", "-1", "1.5", "99999999999999999999"} {
		if r := h.do(http.MethodGet, "/v1/shipments/SHP-1", "", withKey(retailerKey), withHeader("X-Min-Block", bad)); r.Code != http.StatusBadRequest {
			t.Errorf("X-Min-Block %q: %d, want 400", bad, r.Code)
		}
	}
}
