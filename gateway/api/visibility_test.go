package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
)

// viewers are who asks for a carrier's transaction, and whether each may
// see it: the key that submitted it, and keys of its organisation whose role
// may read shipments; never a sensor's key or another organisation's.
var viewers = []struct {
	name, key string
	sees      bool
}{
	{"the submitting key", carrierKey, true},
	{"another key of the same identity", carrierOpsKey, true},
	{"an auditor of the same organisation", carrierAuditorKey, true},
	{"a sensor of the same organisation", carrierSensorKey, false},
	{"another organisation", retailerKey, false},
	{"the exporter", exporterKey, false},
}

func TestTransactionsAreVisibleToTheirSubmitterAndItsReaders(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, withKey(carrierKey), withHeader("Prefer", "respond-async"))
	var r Receipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || rec.Code != 202 {
		t.Fatalf("async write: %d %s", rec.Code, rec.Body)
	}
	pollTx(t, h, carrierKey, r.Transaction.ID, "COMMITTED")
	for _, v := range viewers {
		t.Run(v.name, func(t *testing.T) {
			rec := h.do("GET", "/v1/transactions/"+r.Transaction.ID, "", withKey(v.key))
			checkVisible(t, rec.Code, rec.Body.String(), v.sees)
		})
	}
	// After a restart the journal still says who submitted it.
	h.restart()
	rec = h.do("GET", "/v1/transactions/"+r.Transaction.ID, "", withKey(retailerKey))
	checkVisible(t, rec.Code, rec.Body.String(), false)
}

func TestASensorSeesItsOwnTransactions(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, withKey(carrierSensorKey), withHeader("Prefer", "respond-async"))
	var r Receipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || rec.Code != 202 {
		t.Fatalf("async write: %d %s", rec.Code, rec.Body)
	}
	pollTx(t, h, carrierSensorKey, r.Transaction.ID, "COMMITTED")
	rec = h.do("GET", "/v1/transactions/"+r.Transaction.ID, "", withKey(carrierOpsKey))
	checkVisible(t, rec.Code, rec.Body.String(), true)
}

// TestLedgerTransactionsAreVisibleToTheirSubmitterAndItsReaders: a
// transaction the journal does not know (a sync write, another gateway's,
// one from before a purge) is shown only by who signed it on the ledger.
func TestLedgerTransactionsAreVisibleToTheirSubmitterAndItsReaders(t *testing.T) {
	id := strings.Repeat("ef", 32)
	var asked []string
	h := newHarness(t, &fakeLedger{lookup: func(identity, txID string) (fabric.TxRecord, error) {
		asked = append(asked, identity)
		return fabric.TxRecord{TxID: txID, Found: true, Valid: true, Code: "VALID", BlockNumber: 9,
			Result: []byte(`{"id":"SHP-1","custodian":"CarrierMSP"}`), CreatorMSPID: "CarrierMSP", Submitter: "carrier"}, nil
	}})
	for _, v := range viewers {
		t.Run(v.name, func(t *testing.T) {
			rec := h.do("GET", "/v1/transactions/"+id, "", withKey(v.key))
			checkVisible(t, rec.Code, rec.Body.String(), v.sees)
		})
	}
	if len(asked) == 0 {
		t.Fatal("the ledger was never asked")
	}
}

func checkVisible(t *testing.T, code int, body string, sees bool) {
	t.Helper()
	switch {
	case sees && code != 200:
		t.Fatalf("status %d, want 200: %s", code, body)
	case !sees && code != 404:
		t.Fatalf("status %d, want 404 (as for an unknown transaction): %s", code, body)
	case !sees && strings.Contains(body, "SHP-1"):
		t.Fatalf("the answer leaks the result: %s", body)
	}
}
