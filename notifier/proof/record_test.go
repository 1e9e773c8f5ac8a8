package proof

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func testRecord() StatusRecord {
	return StatusRecord{Version: 1, Seq: 7, Ref: "0123456789abcdef0123456789abcdef", MessageRef: "fedcba9876543210fedcba9876543210",
		ShipmentID: "SHP-2026-0001", Event: "coldchain.breached", Recipient: "buyer", Template: "shipment_breach_buyer",
		Status: StatusRead, At: time.Date(2026, 11, 23, 10, 47, 0, 0, time.FixedZone("BRT", -3*3600)), Source: SourceWebhook}
}

// TestCanonicalBytes pins the encoding: field order, UTC, omitted empties.
func TestCanonicalBytes(t *testing.T) {
	b, err := testRecord().Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"seq":7,"ref":"0123456789abcdef0123456789abcdef","messageRef":"fedcba9876543210fedcba9876543210","shipmentId":"SHP-2026-0001","event":"coldchain.breached","recipient":"buyer","template":"shipment_breach_buyer","status":"read","at":"2026-11-23T13:47:00Z","source":"webhook"}`
	if string(b) != want {
		t.Fatalf("canonical bytes\n%s\nwant\n%s", b, want)
	}
	r, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !r.At.Equal(testRecord().At) || r.Status != StatusRead {
		t.Fatalf("parsed %+v", r)
	}
}

// TestParseRecordRefusesNonCanonical: one record has one form.
func TestParseRecordRefusesNonCanonical(t *testing.T) {
	b, _ := testRecord().Canonical()
	s := string(b)
	for name, in := range map[string]string{
		"spacing":       strings.Replace(s, `"v":1,`, `"v": 1,`, 1),
		"field order":   strings.Replace(s, `{"v":1,"seq":7,`, `{"seq":7,"v":1,`, 1),
		"time zone":     strings.Replace(s, `2026-11-23T13:47:00Z`, `2026-11-23T10:47:00-03:00`, 1),
		"unknown field": strings.Replace(s, `{"v":1,`, `{"v":1,"phone":"4915123456789",`, 1),
		"bad status":    strings.Replace(s, `"read"`, `"seen"`, 1),
		"trailing":      s + `{}`,
		"version":       strings.Replace(s, `"v":1`, `"v":2`, 1),
	} {
		if _, err := ParseRecord([]byte(in)); err == nil {
			t.Errorf("%s: %s parsed", name, in)
		}
	}
}

// TestCheckInclusion: a proof of a record in a batch checks; changing the
// read time, the status, the index, the path or the root fails.
func TestCheckInclusion(t *testing.T) {
	var recs []string
	var leaves [][]byte
	for i := 0; i < 5; i++ {
		r := testRecord()
		r.Seq = uint64(i + 1)
		r.At = r.At.Add(time.Duration(i) * time.Minute)
		b, _ := r.Canonical()
		recs = append(recs, string(b))
		leaves = append(leaves, LeafHash(b))
	}
	tree, _ := NewTree(leaves)
	path, _ := tree.Path(3)
	rp := RecordProof{Record: recs[3], State: StateAnchored, LeafIndex: 3, AuditPath: Hex(path), Root: hex.EncodeToString(tree.Root()),
		LeafCount: 5, FirstAt: testRecord().At, LastAt: testRecord().At.Add(4 * time.Minute)}
	if _, err := rp.CheckInclusion(); err != nil {
		t.Fatal(err)
	}
	tamper := map[string]func(*RecordProof){
		"read time": func(p *RecordProof) { p.Record = strings.Replace(p.Record, "13:50:00Z", "13:49:00Z", 1) },
		"status":    func(p *RecordProof) { p.Record = strings.Replace(p.Record, `"read"`, `"delivered"`, 1) },
		"index":     func(p *RecordProof) { p.LeafIndex = 2 },
		"path":      func(p *RecordProof) { p.AuditPath = append([]string{}, p.AuditPath[1:]...) },
		"root":      func(p *RecordProof) { p.Root = strings.Repeat("0", 64) },
		"pending":   func(p *RecordProof) { p.State = StatePending },
	}
	for name, f := range tamper {
		p := rp
		f(&p)
		if _, err := p.CheckInclusion(); err == nil {
			t.Errorf("%s tampered: proof still checks", name)
		}
	}
}
