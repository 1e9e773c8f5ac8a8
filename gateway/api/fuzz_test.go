package api

import (
	"encoding/json"
	"testing"
)

// FuzzRequestDecoding sends arbitrary bodies to every operation that takes
// one: whatever arrives, the answer is never a 5xx, and an error is a
// problem body.
func FuzzRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		validCreate, validCreateWithContact, validReadings, `{"toMSP":"CarrierMSP"}`, `{"reason":"x"}`,
		`{"type":"bill_of_lading","sha256":"` + "ab" + `"}`, `{}`, `[]`, `null`, `{"id":`, "\xff\xfe", `{"readings":[{"celsius":1e999}]}`,
		`{"quantity":-0}`, `{"a":"\ud800"}`,
	} {
		for route := range 7 {
			f.Add(route, []byte(seed))
		}
	}
	paths := []struct{ method, path string }{
		{"POST", "/v1/shipments"},
		{"POST", "/v1/shipments/SHP-1/readings"},
		{"POST", "/v1/shipments/SHP-1/documents"},
		{"POST", "/v1/shipments/SHP-1/handover"},
		{"POST", "/v1/shipments/SHP-1/reject"},
		{"POST", "/v1/shipments/SHP-1/ship"},
		{"PUT", "/v1/shipments/SHP-1/buyer-contact"},
	}
	h := newHarness(f, &fakeLedger{})
	f.Fuzz(func(t *testing.T, route int, body []byte) {
		if route < 0 {
			route = -route
		}
		p := paths[route%len(paths)]
		h.t = t
		rec := h.do(p.method, p.path, string(body))
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", p.method, p.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var pr Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &pr); err != nil || pr.Status != rec.Code {
				t.Fatalf("%q: not a problem body: %s", body, rec.Body)
			}
		}
	})
}
