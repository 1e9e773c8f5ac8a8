package shipment

import (
	"encoding/json"
	"testing"
	"time"
)

func FuzzDecodeNewShipment(f *testing.F) {
	seed, _ := json.Marshal(validNew())
	f.Add(seed)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"SHP-1","product":{"quantity":1e308},"coldChain":{"minC":"x"}}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNewShipment(data)
		if err != nil {
			if ErrorCode(err) != Invalid {
				t.Fatalf("decode error is not INVALID: %v", err)
			}
			return
		}
		s, err := Create(n, exporter, t0, members)
		if err != nil {
			if ErrorCode(err) != Invalid {
				t.Fatalf("create error is not INVALID: %v", err)
			}
			return
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal accepted shipment: %v", err)
		}
		var back Shipment
		if err := json.Unmarshal(b, &back); err != nil || back.ID != s.ID {
			t.Fatalf("round trip: %v", err)
		}
		_ = NewEvent(EventCreated, s, t0)
	})
}

func FuzzDecodeReadings(f *testing.F) {
	f.Add([]byte(`[{"sensorId":"S1","time":"2026-11-23T10:00:00Z","celsius":4.5}]`))
	f.Add([]byte(`[{"sensorId":"S1","time":"2026-11-23T10:00:00.123+02:00","celsius":-100},{"sensorId":"S2","time":"2026-11-23T09:00:00Z","celsius":100}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"celsius":1e999}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		batch, err := DecodeReadings(data)
		if err != nil {
			if ErrorCode(err) != Invalid {
				t.Fatalf("decode error is not INVALID: %v", err)
			}
			return
		}
		s, err := Create(validNew(), exporter, t0, members)
		if err != nil {
			t.Fatal(err)
		}
		m := &memStore{}
		before := s.ColdChain.Count
		res, err := recordInto(s, m, exporter, time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC), batch)
		if err != nil {
			if ErrorCode(err) == "" {
				t.Fatalf("internal error: %v", err)
			}
			return
		}
		if s.ColdChain.Count != before+int64(len(batch)) || res.Accepted != len(batch) {
			t.Fatalf("count %d after %d readings", s.ColdChain.Count, len(batch))
		}
		// Recording the same batch again, out of order, must also not panic.
		if _, err := recordInto(s, m, exporter, time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC), batch); err != nil && ErrorCode(err) == "" {
			t.Fatalf("internal error on replay: %v", err)
		}
	})
}

// FuzzDecodeNewClaim: any input is a claim or an INVALID refusal; an
// accepted claim holds only its ID, category and hex digests, so nothing a
// buyer wrote can reach the ledger through it.
func FuzzDecodeNewClaim(f *testing.F) {
	seed, _ := json.Marshal(validClaim())
	f.Add(seed)
	f.Add([]byte(`{"id":"CLM-ABCDEF","category":"other","wordsSha256":"` + validClaim().WordsSHA256 + `","words":"hello"}`))
	f.Add([]byte(`{"id":"CLM-+4915123456789","category":"late"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNewClaim(data)
		if err != nil {
			if ErrorCode(err) != Invalid {
				t.Fatalf("decode error is not INVALID: %v", err)
			}
			return
		}
		s := &Shipment{ID: "SHP-1", Status: StatusDelivered, Exporter: exporterMSP, Buyer: buyerMSP, Custodian: buyerMSP}
		c, _, err := s.OpenClaim(exporter, t0, "tx", n, nil)
		if err != nil {
			t.Fatalf("a decoded claim is refused: %v", err)
		}
		for _, v := range append([]string{c.ID, c.WordsSHA256, string(c.Category)}, c.PhotoSHA256s...) {
			for _, r := range v {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
					t.Fatalf("claim field %q holds %q", v, r)
				}
			}
		}
	})
}
