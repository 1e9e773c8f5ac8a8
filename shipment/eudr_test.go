package shipment

import (
	"strings"
	"testing"
	"time"
)

func TestDueDiligence(t *testing.T) {
	d, err := DecodeDueDiligence([]byte(`{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8"}`))
	if err != nil {
		t.Fatal(err)
	}
	s := &Shipment{ID: "SHP-1", Status: StatusShipped}
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if err := RecordDueDiligence(s, d, "RetailerMSP", at); err != nil || s.DueDiligence.RecordedBy != "RetailerMSP" || !s.DueDiligence.RecordedAt.Equal(at) {
		t.Fatalf("%v %+v", err, s.DueDiligence)
	}
	for in, want := range map[string]string{
		`{"referenceNumber":"ab","verificationNumber":"KJTS6TQ8"}`:                               "referenceNumber",
		`{"referenceNumber":"25FRXVV3VOS991","verificationNumber":""}`:                           "verificationNumber",
		`{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8","x":1}`:             "unknown",
		`{"referenceNumber":"25FRXVV3VOS991","verificationNumber":"KJTS6TQ8","recordedBy":"me"}`: "set by the contract",
		`[]`: "due diligence",
	} {
		if _, err := DecodeDueDiligence([]byte(in)); ErrorCode(err) != Invalid || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", in, err)
		}
	}
	if err := RecordDueDiligence(&Shipment{Status: StatusCancelled}, d, "RetailerMSP", at); ErrorCode(err) != Conflict {
		t.Fatalf("cancelled: %v", err)
	}
}
