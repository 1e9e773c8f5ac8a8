package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/shiptrace/shiptrace/fabric"
)

// recordJSON is the record the fake contract's ReadShipment returns.
const recordJSON = `{"id":"SHP-1","status":"SHIPPED","version":3}`

// readingLedger answers writes with a receipt and ReadShipment with the
// record.
func readingLedger() *fakeLedger {
	return &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
		if req.Tx != "ReadShipment" {
			return nil, errors.New("unexpected evaluate " + req.Tx)
		}
		return []byte(recordJSON), nil
	}}
}

func txs(calls []fabric.Request) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Tx)
	}
	return out
}

func decodeReceipt(t *testing.T, body []byte) Receipt {
	t.Helper()
	var r Receipt
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("receipt %s: %v", body, err)
	}
	return r
}

// TestWriteAnswersWithTheReceiptByDefault: the contract's receipt plus the
// block number, no record, no read.
func TestWriteAnswersWithTheReceiptByDefault(t *testing.T) {
	ledger := readingLedger()
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "")
	if rec.Code != 200 || rec.Header().Get("Preference-Applied") != "" {
		t.Fatalf("status %d, Preference-Applied %q: %s", rec.Code, rec.Header().Get("Preference-Applied"), rec.Body)
	}
	r := decodeReceipt(t, rec.Body.Bytes())
	if want := `{"blockNumber":7,"shipmentId":"SHP-1","status":"CREATED","txId":"t1","version":1}`; string(r.Result) != want || r.Shipment != nil {
		t.Fatalf("result %s, shipment %s; want %s and no record", r.Result, r.Shipment, want)
	}
	if got := txs(ledger.Calls()); !reflect.DeepEqual(got, []string{"Ship"}) {
		t.Fatalf("contract calls %v, want only Ship", got)
	}
}

// TestPreferReturnRepresentation: the record is read after the commit, as
// the caller's identity, and the answer says the preference was applied.
func TestPreferReturnRepresentation(t *testing.T) {
	tests := []struct {
		name, prefer string
		applied      bool
	}{
		{"return=representation", "return=representation", true},
		{"among other preferences, with spaces and case", "handling=lenient, Return = Representation ;x=1", true},
		{"quoted", `return="representation"`, true},
		{"return=minimal", "return=minimal", false},
		{"an unknown preference", "return=everything", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledger := readingLedger()
			h := newHarness(t, ledger)
			rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", withHeader("Prefer", tt.prefer))
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			r := decodeReceipt(t, rec.Body.Bytes())
			calls := ledger.Calls()
			if !tt.applied {
				if r.Shipment != nil || rec.Header().Get("Preference-Applied") != "" || len(calls) != 1 {
					t.Fatalf("record %s, Preference-Applied %q, calls %v: want the receipt alone", r.Shipment, rec.Header().Get("Preference-Applied"), txs(calls))
				}
				return
			}
			if string(r.Shipment) != recordJSON || len(r.Result) == 0 || rec.Header().Get("Preference-Applied") != "return=representation" {
				t.Fatalf("record %s, result %s, Preference-Applied %q", r.Shipment, r.Result, rec.Header().Get("Preference-Applied"))
			}
			if !reflect.DeepEqual(txs(calls), []string{"Ship", "ReadShipment"}) || calls[1].Identity != calls[0].Identity ||
				!reflect.DeepEqual(calls[1].Args, []string{"SHP-1"}) {
				t.Fatalf("calls %+v: want Ship, then ReadShipment of SHP-1 as the same identity", calls)
			}
		})
	}
}

func TestRepresentationOfACreateIsReadAfterTheContact(t *testing.T) {
	ledger := readingLedger()
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments", validCreateWithContact, withHeader("Prefer", "return=representation"))
	if rec.Code != 201 || rec.Header().Get("Preference-Applied") != "return=representation" || rec.Header().Get("Location") == "" {
		t.Fatalf("status %d, headers %v: %s", rec.Code, rec.Header(), rec.Body)
	}
	if got := txs(ledger.Calls()); !reflect.DeepEqual(got, []string{"CreateShipment", "SetBuyerContact", "ReadShipment"}) {
		t.Fatalf("calls %v: the record is read last, after everything the request wrote", got)
	}
}

// TestRepresentationIsNotOfferedForTheContact: the buyer-contact writes
// change no record, and the contact is not echoed.
func TestRepresentationIsNotOfferedForTheContact(t *testing.T) {
	ledger := readingLedger()
	h := newHarness(t, ledger)
	rec := h.do("PUT", "/v1/shipments/SHP-1/buyer-contact", `{"phone":"+4915123456789","name":"Anna","language":"de","consent":true}`,
		withHeader("Prefer", "return=representation"))
	if rec.Code != 200 || rec.Header().Get("Preference-Applied") != "" || strings.Contains(rec.Body.String(), "4915") {
		t.Fatalf("status %d, Preference-Applied %q: %s", rec.Code, rec.Header().Get("Preference-Applied"), rec.Body)
	}
	if got := txs(ledger.Calls()); !reflect.DeepEqual(got, []string{"SetBuyerContact"}) {
		t.Fatalf("calls %v", got)
	}
}

// TestRepresentationThatCannotBeReadLeavesTheReceipt: the write committed;
// a failed read must not turn it into an error.
func TestRepresentationThatCannotBeReadLeavesTheReceipt(t *testing.T) {
	ledger := &fakeLedger{evaluate: func(fabric.Request) ([]byte, error) {
		return nil, &fabric.Error{Stage: fabric.StageEvaluate, Code: codes.Unavailable, Retryable: true, Err: errors.New("peer down")}
	}}
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", withHeader("Prefer", "return=representation"))
	r := decodeReceipt(t, rec.Body.Bytes())
	if rec.Code != 200 || r.Shipment != nil || len(r.Result) == 0 || rec.Header().Get("Preference-Applied") != "" {
		t.Fatalf("status %d, Preference-Applied %q: %s", rec.Code, rec.Header().Get("Preference-Applied"), rec.Body)
	}
	if !strings.Contains(h.logs.String(), "record not read after the commit") {
		t.Error("the declined preference was not logged")
	}
}

func TestAsyncIgnoresReturnRepresentation(t *testing.T) {
	ledger := readingLedger()
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", withHeader("Prefer", "respond-async, return=representation"))
	if rec.Code != 202 || rec.Header().Get("Preference-Applied") != "respond-async" {
		t.Fatalf("status %d, Preference-Applied %q", rec.Code, rec.Header().Get("Preference-Applied"))
	}
	if r := decodeReceipt(t, rec.Body.Bytes()); r.Shipment != nil {
		t.Fatalf("a 202 with a record: %s", rec.Body)
	}
}

// TestReplayGivesTheFirstAnswerWhateverItPrefers: the journal keeps the
// first answer; a repeat gets it byte for byte with its headers, and the
// ledger is not asked again, neither to write nor to read.
func TestReplayGivesTheFirstAnswerWhateverItPrefers(t *testing.T) {
	tests := []struct{ name, first, repeat string }{
		{"the record first, then the receipt asked for", "return=representation", "return=minimal"},
		{"the receipt first, then the record asked for", "return=minimal", "return=representation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledger := readingLedger()
			h := newHarness(t, ledger)
			key := withHeader("Idempotency-Key", "ship-77")
			first := h.do("POST", "/v1/shipments/SHP-1/ship", "", key, withHeader("Prefer", tt.first))
			calls := len(ledger.Calls())
			again := h.do("POST", "/v1/shipments/SHP-1/ship", "", key, withHeader("Prefer", tt.repeat))
			if again.Code != first.Code || again.Body.String() != first.Body.String() ||
				again.Header().Get("Preference-Applied") != first.Header().Get("Preference-Applied") ||
				again.Header().Get("Idempotent-Replayed") != "true" {
				t.Fatalf("first %d %q %s\nrepeat %d %q %s", first.Code, first.Header().Get("Preference-Applied"), first.Body,
					again.Code, again.Header().Get("Preference-Applied"), again.Body)
			}
			if n := len(ledger.Calls()); n != calls {
				t.Fatalf("the replay called the contract: %v", txs(ledger.Calls()[calls:]))
			}
		})
	}
}

// TestSettledAnswerFollowsTheRetrysPreference: nobody got the first answer
// (the gateway restarted after submitting), so the retry's preference shapes
// the answer rebuilt from the ledger, and that answer is kept.
func TestSettledAnswerFollowsTheRetrysPreference(t *testing.T) {
	ledger := readingLedger()
	lost := ledger.loseOutcome()
	h := newHarness(t, ledger)
	key := withHeader("Idempotency-Key", "ship-88")
	if rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", key); rec.Code != 503 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	h.restart()
	submitted := *lost
	ledger.lookup = func(_, txID string) (fabric.TxRecord, error) {
		return fabric.TxRecord{TxID: txID, Found: txID == submitted, Valid: true, BlockNumber: 40,
			Result: []byte(`{"shipmentId":"SHP-1","status":"SHIPPED","version":3,"txId":"` + txID + `"}`)}, nil
	}
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", key, withHeader("Prefer", "return=representation"))
	r := decodeReceipt(t, rec.Body.Bytes())
	if rec.Code != 200 || string(r.Shipment) != recordJSON || rec.Header().Get("Preference-Applied") != "return=representation" ||
		!strings.Contains(string(r.Result), `"blockNumber":40`) {
		t.Fatalf("settled answer %d %q: %s", rec.Code, rec.Header().Get("Preference-Applied"), rec.Body)
	}
	again := h.do("POST", "/v1/shipments/SHP-1/ship", "", key)
	if again.Body.String() != rec.Body.String() || again.Header().Get("Preference-Applied") != "return=representation" {
		t.Fatalf("the settled answer was not kept: %s", again.Body)
	}
}

// TestHistoryPagesCarryTheNextCursor: the contract's bookmark becomes
// nextCursor and a Link, and comes back as the bookmark.
func TestHistoryPagesCarryTheNextCursor(t *testing.T) {
	ledger := &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
		if req.Args[2] == "" {
			return []byte(`{"items":[{"txId":"t9"},{"txId":"t8"}],"bookmark":"h1.2.t8"}`), nil
		}
		return []byte(`{"items":[{"txId":"t7"}],"bookmark":""}`), nil
	}}
	h := newHarness(t, ledger)
	rec := h.do("GET", "/v1/shipments/SHP-1/history?pageSize=2", "")
	var p page
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Items) != 2 || p.NextCursor != encodeCursor("h1.2.t8") {
		t.Fatalf("first page %s", rec.Body)
	}
	link := rec.Header().Get("Link")
	if !strings.Contains(link, "/v1/shipments/SHP-1/history?") || !strings.Contains(link, "cursor="+p.NextCursor) || !strings.Contains(link, "pageSize=2") {
		t.Fatalf("Link %q", link)
	}
	rec = h.do("GET", "/v1/shipments/SHP-1/history?pageSize=2&cursor="+p.NextCursor, "")
	p = page{}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Items) != 1 || p.NextCursor != "" || rec.Header().Get("Link") != "" {
		t.Fatalf("last page %s (Link %q)", rec.Body, rec.Header().Get("Link"))
	}
	if calls := ledger.Calls(); calls[1].Args[2] != "h1.2.t8" {
		t.Fatalf("bookmark passed on as %q", calls[1].Args[2])
	}
}
