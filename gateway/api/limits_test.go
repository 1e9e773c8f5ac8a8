package api

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
)

// blockingLedger holds every write in Wait until release is closed, and
// says on started when a write reached the ledger. It announces each
// transaction ID (OnTxID) as the real client does.
func blockingLedger() (*fakeLedger, chan struct{}, chan string) {
	release, started := make(chan struct{}), make(chan string, 100)
	l := &fakeLedger{}
	l.start = func(req fabric.Request) (fabric.Submission, error) {
		id := nextTxID()
		if req.OnTxID != nil {
			if err := req.OnTxID(context.Background(), id); err != nil {
				return nil, err
			}
		}
		started <- req.Identity
		return fakeSub{id: id, wait: func(ctx context.Context) (fabric.Committed, error) {
			select {
			case <-release:
			case <-ctx.Done():
				// As the real client: the commit status is unknown.
				return fabric.Committed{}, &fabric.Error{Stage: fabric.StageCommitStatus, Reason: fabric.ReasonOutcomeUnknown,
					TxID: id, Retryable: true, MayHaveCommitted: true, Err: ctx.Err()}
			}
			return fabric.Committed{TxID: id, BlockNumber: 3, Result: []byte(`{"id":"SHP-1"}`), Attempts: 1}, nil
		}}, nil
	}
	return l, release, started
}

// inBackground sends a request whose answer arrives later.
func (h *harness) inBackground(method, path, body string, opts ...reqOpt) <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	go func() { out <- h.do(method, path, body, opts...) }()
	return out
}

func retryAfter(t *testing.T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	n, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q, want a number of seconds >= 1", rec.Header().Get("Retry-After"))
	}
	return n
}

func TestRateLimitPerKeyIs429WithRetryAfter(t *testing.T) {
	h := newHarnessWith(t, &fakeLedger{}, Limits{Rate: 0.5, Burst: 2})
	for i := range 2 {
		if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(carrierKey)); rec.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i, rec.Code)
		}
	}
	rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(carrierKey))
	if rec.Code != 429 {
		t.Fatalf("over the rate: %d, want 429", rec.Code)
	}
	if p := problemOf(t, rec); p.Type != "urn:shiptrace:problem:rate-limited" {
		t.Errorf("type %s", p.Type)
	}
	if n := retryAfter(t, rec); n > 2 {
		t.Errorf("Retry-After %d s, want at most 2 (one token every 2 s)", n)
	}
	// Another key has its own budget.
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(retailerKey)); rec.Code != 200 {
		t.Fatalf("another key: %d", rec.Code)
	}
	// A refused request does not spend the budget: after the wait, one passes.
	h.now = h.now.Add(2 * time.Second)
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(carrierKey)); rec.Code != 200 {
		t.Fatalf("after Retry-After: %d", rec.Code)
	}
}

func TestInFlightLimitPerKeyIs429(t *testing.T) {
	ledger, release, started := blockingLedger()
	h := newHarnessWith(t, ledger, Limits{InFlight: 1})
	first := h.inBackground("POST", "/v1/shipments/SHP-1/ship", "", withKey(carrierKey))
	<-started
	rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(carrierKey))
	if rec.Code != 429 {
		t.Fatalf("a second request of the same key: %d, want 429", rec.Code)
	}
	if p := problemOf(t, rec); p.Type != "urn:shiptrace:problem:too-many-in-flight" {
		t.Errorf("type %s", p.Type)
	}
	retryAfter(t, rec)
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(retailerKey)); rec.Code != 200 {
		t.Fatalf("another key: %d", rec.Code)
	}
	close(release)
	if rec := <-first; rec.Code != 200 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(carrierKey)); rec.Code != 200 {
		t.Fatalf("after the first finished: %d", rec.Code)
	}
}

// TestSubmissionQueueIsBounded: with one submission slot and room for one
// waiting write, a third write is refused at once with 503, and nothing of
// it reaches the ledger; the waiting one runs when the slot frees.
func TestSubmissionQueueIsBounded(t *testing.T) {
	ledger, release, started := blockingLedger()
	h := newHarnessWith(t, ledger, Limits{Submissions: 1, Queue: 1, QueueWait: time.Minute})
	first := h.inBackground("POST", "/v1/shipments/SHP-1/ship", "", withKey(exporterKey))
	<-started
	second := h.inBackground("POST", "/v1/shipments/SHP-2/deliver", "", withKey(retailerKey))
	waitFor(t, "the second write to queue", func() bool { return h.srv.admission.waiting() == 1 })
	rec := h.do("POST", "/v1/shipments/SHP-3/readings", validReadings, withKey(carrierKey))
	if rec.Code != 503 {
		t.Fatalf("third write with the queue full: %d, want 503", rec.Code)
	}
	if p := problemOf(t, rec); p.Type != "urn:shiptrace:problem:overloaded" {
		t.Errorf("type %s", p.Type)
	}
	retryAfter(t, rec)
	// Reads do not queue behind writes.
	if rec := h.do("GET", "/v1/shipments/SHP-1", "", withKey(carrierKey)); rec.Code != 200 {
		t.Fatalf("a read while writes queue: %d", rec.Code)
	}
	close(release)
	for i, ch := range []<-chan *httptest.ResponseRecorder{first, second} {
		if rec := <-ch; rec.Code != 200 {
			t.Fatalf("write %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	if n := 1 + len(started); n != 2 {
		t.Errorf("%d writes reached the ledger, want 2", n)
	}
}

func TestAQueuedWriteWaitsOnlySoLong(t *testing.T) {
	ledger, release, started := blockingLedger()
	defer close(release)
	h := newHarnessWith(t, ledger, Limits{Submissions: 1, Queue: 10, QueueWait: 50 * time.Millisecond})
	_ = h.inBackground("POST", "/v1/shipments/SHP-1/ship", "", withKey(exporterKey))
	<-started
	began := time.Now()
	rec := h.do("POST", "/v1/shipments/SHP-2/deliver", "", withKey(retailerKey))
	if rec.Code != 503 || time.Since(began) > 5*time.Second {
		t.Fatalf("queued write: %d after %s, want 503 after about 50ms", rec.Code, time.Since(began))
	}
	retryAfter(t, rec)
	if n := 1 + len(started); n != 1 {
		t.Errorf("%d writes reached the ledger, want 1", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
