package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
)

// TestAClientThatLeavesIsNeitherAnErrorNorA503: the caller of a synchronous
// write hangs up while it waits for the commit. The gateway stops waiting
// at once (the commit timeout is 5 s here), logs no ERROR, and counts the
// request as client_closed, not 503.
func TestAClientThatLeavesIsNeitherAnErrorNorA503(t *testing.T) {
	ledger, release, started := blockingLedger()
	defer close(release)
	h := newHarness(t, ledger)
	ctx, hangUp := context.WithCancel(context.Background())
	done := h.inBackground("POST", "/v1/shipments/SHP-1/ship", "", withKey(exporterKey), withContext(ctx))
	<-started
	hangUp()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the write still waits for its commit 2 s after its client left")
	}
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("logged as an error: %s", line)
		}
	}
	m := h.metrics()
	if !strings.Contains(m, `shiptrace_gateway_http_requests_total{method="POST",route="/v1/shipments/:id/ship",status="client_closed"} 1`) {
		t.Errorf("not counted as client_closed:\n%s", grep(m, "http_requests_total"))
	}
	if strings.Contains(grep(m, "http_requests_total"), `status="503"`) {
		t.Errorf("counted as a 503:\n%s", grep(m, "http_requests_total"))
	}
}

// TestAReadWhoseClientLeftIsNotAnError: the same for a query.
func TestAReadWhoseClientLeftIsNotAnError(t *testing.T) {
	ctx, hangUp := context.WithCancel(context.Background())
	h := newHarness(t, &fakeLedger{evaluate: func(fabric.Request) ([]byte, error) {
		hangUp()
		return nil, &fabric.Error{Stage: fabric.StageEvaluate, Reason: fabric.ReasonUnavailable, Retryable: true, Err: context.Canceled}
	}})
	h.do("GET", "/v1/shipments/SHP-1", "", withContext(ctx))
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Errorf("logged as an error:\n%s", h.logs.String())
	}
	if m := grep(h.metrics(), "http_requests_total"); !strings.Contains(m, `status="client_closed"`) || strings.Contains(m, `status="503"`) {
		t.Errorf("metrics:\n%s", m)
	}
}

// TestASyncWriteWaitsOnlySoLong: a synchronous write waits for its commit at
// most SyncWait, then answers 503 outcome-unknown with its transaction ID
// (it may still commit; the Idempotency-Key settles it).
func TestASyncWriteWaitsOnlySoLong(t *testing.T) {
	ledger, release, _ := blockingLedger()
	defer close(release)
	h := newHarness(t, ledger)
	h.opts = func(o *Options) { o.SyncWait = 50 * time.Millisecond }
	h.restart()
	began := time.Now()
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "")
	if rec.Code != 503 || time.Since(began) > 2*time.Second {
		t.Fatalf("%d after %s, want 503 after about 50ms: %s", rec.Code, time.Since(began), rec.Body)
	}
	if p := problemOf(t, rec); p.Type != "urn:shiptrace:problem:outcome-unknown" || p.TxID == "" {
		t.Errorf("problem %+v, want outcome-unknown with the transaction ID", p)
	}
	retryAfter(t, rec)
}

// TestTheJournalKeepsTheResultOfAWriteWhoseClientLeft: the client left
// while its write was committing; its retry with the same Idempotency-Key
// gets the committed result from the ledger, and nothing is submitted twice.
func TestTheJournalKeepsTheResultOfAWriteWhoseClientLeft(t *testing.T) {
	ledger, release, started := blockingLedger()
	var submitted []string
	ledger.lookup = func(_, txID string) (fabric.TxRecord, error) {
		submitted = append(submitted, txID)
		return fabric.TxRecord{TxID: txID, Found: true, Valid: true, Code: "VALID", BlockNumber: 4,
			Result: []byte(`{"id":"SHP-1","status":"SHIPPED"}`), CreatorMSPID: "ExporterMSP", Submitter: "exporter"}, nil
	}
	defer close(release)
	h := newHarness(t, ledger)
	h.hangUpDuringWrite(started, withHeader("Idempotency-Key", "ship-left"))
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", withHeader("Idempotency-Key", "ship-left"))
	if rec.Code != 200 || rec.Header().Get("Idempotent-Replayed") != "true" || !strings.Contains(rec.Body.String(), "SHIPPED") {
		t.Fatalf("retry: %d %s", rec.Code, rec.Body)
	}
	if n := 1 + len(started); n != 1 || len(submitted) != 1 {
		t.Errorf("%d submissions and %d look-ups, want 1 and 1", n, len(submitted))
	}
}

// TestAnIdempotentWriteWhoseTransactionsAllFailedRunsAgainAtOnce: every
// transaction a lost request started is on the ledger and invalid, so none
// can commit any more: the retry runs at once instead of waiting for
// settle_after.
func TestAnIdempotentWriteWhoseTransactionsAllFailedRunsAgainAtOnce(t *testing.T) {
	ledger, release, started := blockingLedger()
	ledger.lookup = func(_, txID string) (fabric.TxRecord, error) {
		return fabric.TxRecord{TxID: txID, Found: true, Valid: false, Code: "MVCC_READ_CONFLICT", BlockNumber: 4,
			CreatorMSPID: "ExporterMSP", Submitter: "exporter"}, nil
	}
	h := newHarness(t, ledger)
	h.hangUpDuringWrite(started, withHeader("Idempotency-Key", "ship-mvcc"))
	close(release)
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", withHeader("Idempotency-Key", "ship-mvcc"))
	if rec.Code != 200 || rec.Header().Get("Idempotent-Replayed") == "true" {
		t.Fatalf("retry: %d %s, want a fresh 200", rec.Code, rec.Body)
	}
}

// hangUpDuringWrite ships SHP-1 and hangs up once the write reached the
// ledger, then waits for the gateway to finish with it.
func (h *harness) hangUpDuringWrite(started <-chan string, opts ...reqOpt) {
	ctx, hangUp := context.WithCancel(context.Background())
	done := h.inBackground("POST", "/v1/shipments/SHP-1/ship", "", append(opts, withContext(ctx))...)
	<-started
	hangUp()
	<-done
}

func grep(text, needle string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, needle) && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
