package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	tests := []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"no key is refused", "/v1/shipments/SHP-1", map[string]string{"Authorization": ""}, 401},
		{"a wrong key is refused", "/v1/shipments/SHP-1", map[string]string{"Authorization": "Bearer not-a-key"}, 401},
		{"a non-bearer scheme is refused", "/v1/shipments/SHP-1", map[string]string{"Authorization": "Basic " + exporterKey}, 401},
		{"a bearer key is accepted", "/v1/shipments/SHP-1", map[string]string{"Authorization": "Bearer " + carrierKey}, 200},
		{"the bearer scheme is case-insensitive", "/v1/shipments/SHP-1", map[string]string{"Authorization": "bearer " + carrierKey}, 200},
		{"an X-API-Key is accepted", "/v1/shipments/SHP-1", map[string]string{"Authorization": "", "X-API-Key": retailerKey}, 200},
		{"health needs no key", "/healthz", map[string]string{"Authorization": ""}, 200},
		{"readiness needs no key", "/readyz", map[string]string{"Authorization": ""}, 200},
		{"metrics need a key", "/metrics", map[string]string{"Authorization": ""}, 401},
		{"metrics refuse a wrong key", "/metrics", map[string]string{"Authorization": "Bearer not-a-key"}, 401},
		{"metrics open to a key", "/metrics", map[string]string{"Authorization": "Bearer " + carrierKey}, 200},
		{"the OpenAPI document needs no key", "/v1/openapi.json", map[string]string{"Authorization": ""}, 200},
		{"transactions need a key", "/v1/transactions/" + strings.Repeat("a", 64), map[string]string{"Authorization": ""}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []reqOpt
			for k, v := range tt.header {
				opts = append(opts, withHeader(k, v))
			}
			rec := h.do("GET", tt.path, "", opts...)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == 401 {
				problemOf(t, rec)
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			}
		})
	}
}

func TestCallerIdentitySignsTheTransaction(t *testing.T) {
	ledger := &fakeLedger{}
	h := newHarness(t, ledger)
	for key, identity := range map[string]string{exporterKey: "exporter", carrierKey: "carrier", retailerKey: "retailer"} {
		h.do("POST", "/v1/shipments/SHP-1/deliver", "", withKey(key))
		calls := ledger.Calls()
		if got := calls[len(calls)-1].Identity; got != identity {
			t.Errorf("key for %s signed as %s", identity, got)
		}
	}
}

// TestRoutesCallTheContract pins, for every route, the transaction and the
// arguments the contract receives and the success status.
func TestRoutesCallTheContract(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		tx       string
		args     []string
		status   int
		location string
	}{
		{"create", "POST", "/v1/shipments", validCreate, "CreateShipment", nil, 201, "/v1/shipments/SHP-2026-0001"},
		{"get", "GET", "/v1/shipments/SHP-1", "", "ReadShipment", []string{"SHP-1"}, 200, ""},
		{"list with filters", "GET", "/v1/shipments?status=SHIPPED&buyer=RetailerMSP&pageSize=2&cursor=YWJj", "",
			"ListShipments", []string{`{"buyer":"RetailerMSP","status":"SHIPPED"}`, "2", "abc"}, 200, ""},
		{"list defaults", "GET", "/v1/shipments", "", "ListShipments", []string{`{}`, "50", ""}, 200, ""},
		{"history", "GET", "/v1/shipments/SHP-1/history", "", "ShipmentHistory", []string{"SHP-1", "20", ""}, 200, ""},
		{"claims", "GET", "/v1/shipments/SHP-1/claims", "", "Claims", []string{"SHP-1"}, 200, ""},
		{"history page", "GET", "/v1/shipments/SHP-1/history?pageSize=100&cursor=aDEuMi50MQ", "", "ShipmentHistory", []string{"SHP-1", "100", "h1.2.t1"}, 200, ""},
		{"readings page", "GET", "/v1/shipments/SHP-1/readings?from=2026-11-23T00:00:00Z&pageSize=10", "",
			"Readings", []string{"SHP-1", "2026-11-23T00:00:00Z", "", "10", ""}, 200, ""},
		{"record readings", "POST", "/v1/shipments/SHP-1/readings", validReadings, "RecordReadings",
			[]string{"SHP-1", `[{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":4.5},{"sensorId":"S1","time":"2026-11-23T09:05:00Z","celsius":4.7}]`}, 200, ""},
		{"pair sensors", "POST", "/v1/shipments/SHP-1/sensors", `{"sensors":["L1","L0"]}`, "RegisterSensors", []string{"SHP-1", `["L1","L0"]`}, 200, ""},
		{"attach document", "POST", "/v1/shipments/SHP-1/documents", `{"type":"bill_of_lading","sha256":"` + strings.Repeat("ab", 32) + `"}`,
			"AttachDocument", []string{"SHP-1", `{"type":"bill_of_lading","sha256":"` + strings.Repeat("ab", 32) + `"}`}, 200, ""},
		{"ship", "POST", "/v1/shipments/SHP-1/ship", "", "Ship", []string{"SHP-1"}, 200, ""},
		{"ship with an empty object", "POST", "/v1/shipments/SHP-1/ship", "{}", "Ship", []string{"SHP-1"}, 200, ""},
		{"hand over", "POST", "/v1/shipments/SHP-1/handover", `{"toMSP":"CarrierMSP"}`, "HandOver", []string{"SHP-1", "CarrierMSP"}, 200, ""},
		{"deliver", "POST", "/v1/shipments/SHP-1/deliver", "", "Deliver", []string{"SHP-1"}, 200, ""},
		{"reject", "POST", "/v1/shipments/SHP-1/reject", `{"reason":"cold chain breached"}`, "Reject", []string{"SHP-1", "cold chain breached"}, 200, ""},
		{"cancel", "POST", "/v1/shipments/SHP-1/cancel", `{"reason":"order withdrawn"}`, "Cancel", []string{"SHP-1", "order withdrawn"}, 200, ""},
		{"flag overdue", "POST", "/v1/shipments/SHP-1/overdue", "", "FlagOverdue", []string{"SHP-1"}, 200, ""},
		{"get buyer contact", "GET", "/v1/shipments/SHP-1/buyer-contact", "", "BuyerContact", []string{"SHP-1"}, 200, ""},
		{"set buyer contact", "PUT", "/v1/shipments/SHP-1/buyer-contact", `{"phone":"+4915123456789","name":"Anna","language":"de","consent":true}`,
			"SetBuyerContact", []string{"SHP-1"}, 200, ""},
		{"delete buyer contact", "DELETE", "/v1/shipments/SHP-1/buyer-contact", "", "DeleteBuyerContact", []string{"SHP-1"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledger := &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
				switch req.Tx {
				case "ListShipments", "Readings":
					return []byte(`{"items":[{"id":"SHP-1"}],"bookmark":""}`), nil
				case "ShipmentHistory":
					return []byte(`{"items":[{"txId":"t1"}],"bookmark":""}`), nil
				case "Claims":
					return []byte(`[]`), nil
				}
				return []byte(`{"id":"SHP-1"}`), nil
			}}
			h := newHarness(t, ledger)
			rec := h.do(tt.method, tt.path, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			calls := ledger.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d contract calls, want 1", len(calls))
			}
			if calls[0].Tx != tt.tx {
				t.Errorf("transaction %s, want %s", calls[0].Tx, tt.tx)
			}
			if tt.args != nil && !reflect.DeepEqual(calls[0].Args, tt.args) {
				t.Errorf("args %q, want %q", calls[0].Args, tt.args)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if tt.method != "GET" {
				var r Receipt
				if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Transaction.ID == "" ||
					r.Transaction.Status != "COMMITTED" || r.Transaction.BlockNumber == nil || *r.Transaction.BlockNumber != 7 {
					t.Errorf("receipt %s (%v): want tx ID, COMMITTED, block 7", rec.Body, err)
				}
			}
		})
	}
}

func TestCreateValidatesBeforeCallingTheContract(t *testing.T) {
	ledger := &fakeLedger{}
	h := newHarness(t, ledger)
	// Buyer equal to the caller's own organisation breaks a rule.
	body := strings.Replace(validCreate, `"buyer":"RetailerMSP"`, `"buyer":"ExporterMSP"`, 1)
	rec := h.do("POST", "/v1/shipments", body)
	p := problemOf(t, rec)
	if rec.Code != 422 || p.Code != "INVALID" || !strings.Contains(p.Detail, "buyer") {
		t.Fatalf("got %d %+v, want 422 INVALID naming buyer", rec.Code, p)
	}
	if len(ledger.Calls()) != 0 {
		t.Fatal("the contract was called for an invalid request")
	}
}

func TestCreateSendsTheContactAsTransientDataEndorsedByTheExporterOnly(t *testing.T) {
	ledger := &fakeLedger{}
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments", validCreateWithContact)
	if rec.Code != 201 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	calls := ledger.Calls()
	if len(calls) != 2 || calls[0].Tx != "CreateShipment" || calls[1].Tx != "SetBuyerContact" {
		t.Fatalf("calls %+v, want CreateShipment then SetBuyerContact", calls)
	}
	if strings.Contains(calls[0].Args[0], "+4915123456789") || len(calls[0].Transient) != 0 {
		t.Error("the contact reached the public create transaction")
	}
	var c shipment.Contact
	if err := json.Unmarshal(calls[1].Transient["buyerContact"], &c); err != nil || c.Phone != "+4915123456789" {
		t.Errorf("transient contact %q (%v)", calls[1].Transient["buyerContact"], err)
	}
	if !reflect.DeepEqual(calls[1].EndorsingOrgs, []string{"ExporterMSP"}) {
		t.Errorf("endorsers %v, want only ExporterMSP", calls[1].EndorsingOrgs)
	}
	var r Receipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.BuyerContact == nil || !r.BuyerContact.Stored {
		t.Errorf("receipt %s: want buyerContact.stored", rec.Body)
	}
	if strings.Contains(h.logs.String(), "4915123456789") || strings.Contains(h.logs.String(), "Anna") {
		t.Error("the buyer contact was logged")
	}
}

func TestCreateReportsAContactThatWasNotStored(t *testing.T) {
	ledger := &fakeLedger{}
	ledger.start = func(req fabric.Request) (fabric.Submission, error) {
		if req.Tx == "SetBuyerContact" {
			return nil, &fabric.Error{Stage: fabric.StageEndorse, Code: codes.Unavailable, Retryable: true,
				Err: errors.New("peer down, contact +4915123456789")}
		}
		return committedSub(context.Background(), req, `{"id":"SHP-2026-0002"}`)
	}
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments", validCreateWithContact)
	if rec.Code != 201 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r Receipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.BuyerContact == nil || r.BuyerContact.Stored || r.BuyerContact.Problem == nil {
		t.Fatalf("receipt %s: want buyerContact.stored false with a problem", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "+4915") {
		t.Error("the response leaks the error's text")
	}
}

// refusal is what fabric.Client returns for a contract refusal.
func refusal(code shipment.Code, msg string) error {
	return fmt.Errorf("endorse: %w", &shipment.Error{Code: code, Message: msg})
}

// TestErrorMapping pins the one mapping from errors to problem+json.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter bool
		detail     string
		txID       bool
	}{
		{"contract INVALID is 422", refusal(shipment.Invalid, "readings[0].celsius: out of range"), 422, "INVALID", false, "readings[0].celsius: out of range", false},
		{"contract NOT_FOUND is 404", refusal(shipment.NotFound, "shipment SHP-1 does not exist"), 404, "NOT_FOUND", false, "shipment SHP-1 does not exist", false},
		{"contract FORBIDDEN is 403", refusal(shipment.Forbidden, "only the exporter may do this"), 403, "FORBIDDEN", false, "only the exporter may do this", false},
		{"contract CONFLICT is 409", refusal(shipment.Conflict, "shipment SHP-1 is DELIVERED"), 409, "CONFLICT", false, "shipment SHP-1 is DELIVERED", false},
		{"an unreachable peer is 503", &fabric.Error{Stage: fabric.StageEndorse, Code: codes.Unavailable, Retryable: true, Err: errors.New("connection refused 10.0.0.1")}, 503, "", true, "", false},
		{"an endorsement failure is 502", &fabric.Error{Stage: fabric.StageEndorse, TxID: "abc", Code: codes.Aborted, Err: errors.New("mismatch")}, 502, "", false, "", true},
		{"a submit failure is 503 with the tx ID", &fabric.Error{Stage: fabric.StageSubmit, TxID: "abc", Code: codes.Unavailable, Retryable: true, MayHaveCommitted: true, Err: errors.New("orderer down")}, 503, "", true, "", true},
		{"an unknown commit status is 503", &fabric.Error{Stage: fabric.StageCommitStatus, TxID: "abc", Code: codes.DeadlineExceeded, Retryable: true, MayHaveCommitted: true, Err: context.DeadlineExceeded}, 503, "", true, "", true},
		{"MVCC conflicts after retries are 503", &fabric.Error{Stage: fabric.StageCommit, TxID: "abc", TxCode: peer.TxValidationCode_MVCC_READ_CONFLICT.String(), Retryable: true, Err: errors.New("mvcc")}, 503, "", true, "MVCC_READ_CONFLICT", true},
		{"an invalidated transaction is 502", &fabric.Error{Stage: fabric.StageCommit, TxID: "abc", TxCode: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE.String(), Err: errors.New("policy")}, 502, "", false, "ENDORSEMENT_POLICY_FAILURE", true},
		{"a timeout is 503", context.DeadlineExceeded, 503, "", true, "", false},
		{"anything else is 500 without its text", errors.New("secret internal detail at /srv/x.go:12"), 500, "", false, "", false},
	}
	for _, tt := range tests {
		for _, route := range []struct{ method, path, body string }{
			{"GET", "/v1/shipments/SHP-1", ""},
			{"POST", "/v1/shipments/SHP-1/readings", validReadings},
		} {
			t.Run(tt.name+" on "+route.method, func(t *testing.T) {
				ledger := &fakeLedger{
					evaluate: func(fabric.Request) ([]byte, error) { return nil, tt.err },
					start:    func(fabric.Request) (fabric.Submission, error) { return nil, tt.err },
				}
				h := newHarness(t, ledger)
				rec := h.do(route.method, route.path, route.body)
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
				}
				p := problemOf(t, rec)
				if p.Code != tt.code {
					t.Errorf("code %q, want %q", p.Code, tt.code)
				}
				if (rec.Header().Get("Retry-After") != "") != tt.retryAfter {
					t.Errorf("Retry-After %q, want present=%v", rec.Header().Get("Retry-After"), tt.retryAfter)
				}
				if !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("detail %q, want it to contain %q", p.Detail, tt.detail)
				}
				if tt.txID && route.method == "POST" && p.TxID == "" {
					t.Error("no txId in the problem")
				}
				if p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-Id") {
					t.Errorf("requestId %q does not match the header", p.RequestID)
				}
				for _, secret := range []string{"10.0.0.1", "/srv/x.go", "goroutine"} {
					if strings.Contains(rec.Body.String(), secret) {
						t.Errorf("the body leaks %q", secret)
					}
				}
			})
		}
	}
}

// TestFailuresThatPassOnRetryAloneSayRetry: a contract failure without a
// code fails the same way every time, so it is a 502 without Retry-After;
// endorsers that keep disagreeing are a 503 with it.
func TestFailuresThatPassOnRetryAloneSayRetry(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		typ        string
		retryAfter bool
	}{
		{"a contract failure without a code", &fabric.Error{Stage: fabric.StageEndorse, Reason: fabric.ReasonContract, TxID: "abc",
			Code: codes.Aborted, Err: errors.New("chaincode response 500, Incorrect number of params")}, 502, "urn:shiptrace:problem:contract-failed", false},
		{"endorsers that disagree", &fabric.Error{Stage: fabric.StageEndorse, Reason: fabric.ReasonDisagreement, TxID: "abc",
			Code: codes.Aborted, Retryable: true, Err: errors.New("ProposalResponsePayloads do not match")}, 503, "urn:shiptrace:problem:endorsers-disagree", true},
		{"an orderer's refusal", &fabric.Error{Stage: fabric.StageSubmit, Reason: fabric.ReasonRejected, TxID: "abc",
			Code: codes.Aborted, Err: errors.New("status=BAD_REQUEST")}, 502, "urn:shiptrace:problem:network-error", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, &fakeLedger{start: func(fabric.Request) (fabric.Submission, error) { return nil, tt.err }})
			rec := h.do("POST", "/v1/shipments/SHP-1/ship", "")
			p := problemOf(t, rec)
			if rec.Code != tt.status || p.Type != tt.typ || (rec.Header().Get("Retry-After") != "") != tt.retryAfter {
				t.Fatalf("status %d type %s Retry-After %q, want %d %s retry=%v", rec.Code, p.Type, rec.Header().Get("Retry-After"),
					tt.status, tt.typ, tt.retryAfter)
			}
			if strings.Contains(rec.Body.String(), "Incorrect number") {
				t.Error("the body leaks the chaincode's message")
			}
		})
	}
}

func TestBadInputIsA4xxProblem(t *testing.T) {
	huge := `{"readings":[` + strings.Repeat(`{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":4.5},`, 2000) + `{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":4.5}]}`
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		want        int
	}{
		{"malformed JSON", "POST", "/v1/shipments", `{"id":`, "", 400},
		{"not an object", "POST", "/v1/shipments", `[1,2]`, "", 400},
		{"null body", "POST", "/v1/shipments", `null`, "", 400},
		{"wrong type", "POST", "/v1/shipments", strings.Replace(validCreate, `"quantity":100`, `"quantity":"100"`, 1), "", 400},
		{"unknown field", "POST", "/v1/shipments", strings.Replace(validCreate, `"buyerRef"`, `"colour":"red","buyerRef"`, 1), "", 400},
		{"missing field", "POST", "/v1/shipments", strings.Replace(validCreate, `"buyer":"RetailerMSP",`, ``, 1), "", 400},
		{"trailing data", "POST", "/v1/shipments/SHP-1/handover", `{"toMSP":"CarrierMSP"} {"x":1}`, "", 400},
		{"empty body where one is required", "POST", "/v1/shipments/SHP-1/handover", ``, "", 400},
		{"unknown field in an empty-body operation", "POST", "/v1/shipments/SHP-1/ship", `{"force":true}`, "", 400},
		{"non-UTF-8", "POST", "/v1/shipments/SHP-1/reject", "{\"reason\":\"bad \xff\xfe\"}", "", 400},
		{"huge body", "POST", "/v1/shipments/SHP-1/readings", huge, "", 413},
		{"too many readings", "POST", "/v1/shipments/SHP-1/readings", `{"readings":[` + strings.Repeat(`{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":4.5},`, 1000) + `{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":4.5}]}`, "", 400},
		{"no readings", "POST", "/v1/shipments/SHP-1/readings", `{"readings":[]}`, "", 400},
		{"no sensors to pair", "POST", "/v1/shipments/SHP-1/sensors", `{"sensors":[]}`, "", 400},
		{"a sensor paired twice in one call", "POST", "/v1/shipments/SHP-1/sensors", `{"sensors":["L1","L1"]}`, "", 400},
		{"a sensor id with a space", "POST", "/v1/shipments/SHP-1/sensors", `{"sensors":["L 1"]}`, "", 400},
		{"temperature out of range", "POST", "/v1/shipments/SHP-1/readings", `{"readings":[{"sensorId":"S1","time":"2026-11-23T09:00:00Z","celsius":400}]}`, "", 400},
		{"reading in the far future", "POST", "/v1/shipments/SHP-1/readings", `{"readings":[{"sensorId":"S1","time":"2027-11-23T09:00:00Z","celsius":4}]}`, "", 422},
		{"bad time", "POST", "/v1/shipments/SHP-1/readings", `{"readings":[{"sensorId":"S1","time":"yesterday","celsius":4}]}`, "", 400},
		{"not JSON content type", "POST", "/v1/shipments/SHP-1/reject", `{"reason":"x"}`, "text/plain", 415},
		{"invalid id in the path", "GET", "/v1/shipments/%20bad%20id", "", "", 400},
		{"too short an id", "POST", "/v1/shipments/ab/ship", "", "", 400},
		{"id with a slash", "GET", "/v1/shipments/a%2Fb/history", "", "", 400},
		{"page size too large", "GET", "/v1/shipments?pageSize=1000", "", "", 400},
		{"history page size too large", "GET", "/v1/shipments/SHP-1/history?pageSize=101", "", "", 400},
		{"history page size 0", "GET", "/v1/shipments/SHP-1/history?pageSize=0", "", "", 400},
		{"claims of an id with a space", "GET", "/v1/shipments/a%20b/claims", "", "", 400},
		{"a history cursor we did not issue", "GET", "/v1/shipments/SHP-1/history?cursor=%00%01", "", "", 400},
		{"page size not a number", "GET", "/v1/shipments?pageSize=ten", "", "", 400},
		{"unknown status filter", "GET", "/v1/shipments?status=LOST", "", "", 400},
		{"bad from time", "GET", "/v1/shipments/SHP-1/readings?from=monday", "", "", 400},
		{"to before from", "GET", "/v1/shipments/SHP-1/readings?from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", "", "", 422},
		{"a cursor we did not issue", "GET", "/v1/shipments?cursor=%00%01", "", "", 400},
		{"bad transaction id", "GET", "/v1/transactions/xyz", "", "", 400},
		{"bad sha256", "POST", "/v1/shipments/SHP-1/documents", `{"type":"bill_of_lading","sha256":"XYZ"}`, "", 400},
		{"bad GTIN check digit", "POST", "/v1/shipments", strings.Replace(validCreate, "4006381333931", "4006381333932", 1), "", 422},
		{"bad idempotency key", "POST", "/v1/shipments/SHP-1/ship", "", "", 400},
		{"unknown route", "GET", "/v1/nothing", "", "", 404},
		{"wrong method", "PATCH", "/v1/shipments/SHP-1", "", "", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledger := &fakeLedger{}
			h := newHarness(t, ledger)
			var opts []reqOpt
			if tt.contentType != "" {
				opts = append(opts, withHeader("Content-Type", tt.contentType))
			}
			if tt.name == "bad idempotency key" {
				opts = append(opts, withHeader("Idempotency-Key", "has space"))
			}
			rec := h.do(tt.method, tt.path, tt.body, opts...)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			problemOf(t, rec)
			if len(ledger.Calls()) != 0 {
				t.Errorf("the contract was called: %+v", ledger.Calls()[0].Tx)
			}
		})
	}
}

func TestIdempotentRetryReturnsTheFirstResponse(t *testing.T) {
	ledger := &fakeLedger{}
	h := newHarness(t, ledger)
	key := withHeader("Idempotency-Key", "create-0001")
	first := h.do("POST", "/v1/shipments", validCreate, key)
	second := h.do("POST", "/v1/shipments", validCreate, key)
	if first.Code != 201 || second.Code != 201 {
		t.Fatalf("statuses %d, %d", first.Code, second.Code)
	}
	if first.Body.String() != second.Body.String() || second.Header().Get("Location") != first.Header().Get("Location") {
		t.Errorf("replay differs:\n%s\n%s", first.Body, second.Body)
	}
	if second.Header().Get("Idempotent-Replayed") != "true" {
		t.Error("replay not marked")
	}
	if n := len(ledger.Calls()); n != 1 {
		t.Errorf("%d contract calls, want 1", n)
	}
	// The same key from another client is another request.
	other := h.do("POST", "/v1/shipments", validCreate, key, withKey(carrierKey))
	if other.Header().Get("Idempotent-Replayed") == "true" {
		t.Error("a key was shared between clients")
	}
}

func TestIdempotencyKeyReusedForADifferentRequestIs422(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	key := withHeader("Idempotency-Key", "k-1")
	h.do("POST", "/v1/shipments/SHP-1/reject", `{"reason":"a"}`, key, withKey(retailerKey))
	rec := h.do("POST", "/v1/shipments/SHP-1/reject", `{"reason":"b"}`, key, withKey(retailerKey))
	if rec.Code != 422 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	problemOf(t, rec)
}

func TestIdempotencyKeyOfARefusedRequestCanBeRetried(t *testing.T) {
	refuse := true
	ledger := &fakeLedger{}
	ledger.start = func(req fabric.Request) (fabric.Submission, error) {
		if refuse {
			return nil, refusal(shipment.Conflict, "shipment SHP-1 is CREATED")
		}
		return committedSub(context.Background(), req, `{"id":"SHP-1"}`)
	}
	h := newHarness(t, ledger)
	key := withHeader("Idempotency-Key", "deliver-1")
	if rec := h.do("POST", "/v1/shipments/SHP-1/deliver", "", key, withKey(retailerKey)); rec.Code != 409 {
		t.Fatalf("first: %d", rec.Code)
	}
	refuse = false
	if rec := h.do("POST", "/v1/shipments/SHP-1/deliver", "", key, withKey(retailerKey)); rec.Code != 200 {
		t.Fatalf("retry after the refusal: %d %s", rec.Code, rec.Body)
	}
}

func TestConcurrentRequestWithTheSameKeyIs409(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ledger := &fakeLedger{}
	ledger.start = func(req fabric.Request) (fabric.Submission, error) {
		id := nextTxID()
		return fakeSub{id: id, wait: func(ctx context.Context) (fabric.Committed, error) {
			close(started)
			<-release
			return fabric.Committed{TxID: id, BlockNumber: 1, Result: []byte(`{}`)}, nil
		}}, nil
	}
	h := newHarness(t, ledger)
	key := withHeader("Idempotency-Key", "slow")
	done := make(chan int)
	go func() { done <- h.do("POST", "/v1/shipments/SHP-1/ship", "", key).Code }()
	<-started
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", key)
	close(release)
	if rec.Code != 409 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("concurrent duplicate: %d %s", rec.Code, rec.Body)
	}
	if code := <-done; code != 200 {
		t.Fatalf("first request: %d", code)
	}
}

// TestIdempotencyAcrossARestart: the gateway died after the orderer took the
// transaction; after a restart, a retry is answered from the ledger.
func TestIdempotencyAcrossARestart(t *testing.T) {
	ledger := &fakeLedger{}
	lost := ledger.loseOutcome()
	h := newHarness(t, ledger)
	key := withHeader("Idempotency-Key", "batch-42")
	if rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, key, withKey(carrierKey)); rec.Code != 503 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	h.restart()
	submitted := *lost
	ledger.start = func(fabric.Request) (fabric.Submission, error) {
		t.Error("the retry submitted a new transaction")
		return nil, errors.New("unexpected")
	}
	ledger.lookup = func(identity, txID string) (fabric.TxRecord, error) {
		if identity != "carrier" {
			t.Errorf("looked up as %s", identity)
		}
		return fabric.TxRecord{TxID: txID, Found: txID == submitted, Valid: true, BlockNumber: 99, Result: []byte(`{"shipmentId":"SHP-1","txId":"` + txID + `","readings":2}`)}, nil
	}
	rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, key, withKey(carrierKey))
	if rec.Code != 200 {
		t.Fatalf("retry after restart: %d %s", rec.Code, rec.Body)
	}
	var r Receipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Transaction.ID != submitted || *r.Transaction.BlockNumber != 99 ||
		string(r.Result) != `{"blockNumber":99,"readings":2,"shipmentId":"SHP-1","txId":"`+submitted+`"}` {
		t.Fatalf("receipt %s: want tx %s in block 99 with the contract's receipt from the block", rec.Body, submitted)
	}
	// And now it is a plain replay.
	again := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, key, withKey(carrierKey))
	if again.Body.String() != rec.Body.String() {
		t.Errorf("second replay differs")
	}
}

func TestUnsettledKeyWaitsThenRunsAgain(t *testing.T) {
	ledger := &fakeLedger{}
	ledger.start = func(req fabric.Request) (fabric.Submission, error) {
		id := nextTxID()
		_ = req.OnTxID(context.Background(), id)
		return nil, &fabric.Error{Stage: fabric.StageSubmit, TxID: id, Code: codes.Unavailable, Retryable: true, MayHaveCommitted: true, Err: errors.New("down")}
	}
	h := newHarness(t, ledger)
	key := withHeader("Idempotency-Key", "ship-9")
	h.do("POST", "/v1/shipments/SHP-1/ship", "", key)
	// Not on the ledger yet, and recent: it may still commit.
	rec := h.do("POST", "/v1/shipments/SHP-1/ship", "", key)
	if rec.Code != 409 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("recent unsettled: %d %s", rec.Code, rec.Body)
	}
	// Long after every timeout, it cannot commit any more: run it again.
	h.now = h.now.Add(time.Hour)
	ledger.start = nil
	rec = h.do("POST", "/v1/shipments/SHP-1/ship", "", key)
	if rec.Code != 200 {
		t.Fatalf("stale unsettled: %d %s", rec.Code, rec.Body)
	}
	if n := len(ledger.Calls()); n != 2 {
		t.Errorf("%d submissions, want 2", n)
	}
}

func pollTx(t *testing.T, h *harness, key, id string, want string) TxView {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := h.do("GET", "/v1/transactions/"+id, "", withKey(key))
		var v TxView
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		if rec.Code == 200 && v.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %s: last %d %s, want %s", id, rec.Code, rec.Body, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAsyncWriteIsAcceptedThenCommitted(t *testing.T) {
	release := make(chan struct{})
	ledger := &fakeLedger{}
	ledger.start = func(req fabric.Request) (fabric.Submission, error) {
		id := nextTxID()
		return fakeSub{id: id, wait: func(ctx context.Context) (fabric.Committed, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return fabric.Committed{}, ctx.Err()
			}
			return fabric.Committed{TxID: id, BlockNumber: 12, Result: []byte(`{"shipmentId":"SHP-1","txId":"` + id + `"}`), Attempts: 2}, nil
		}}, nil
	}
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, withKey(carrierKey), withHeader("Prefer", "respond-async"))
	if rec.Code != 202 || rec.Header().Get("Preference-Applied") != "respond-async" {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r Receipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Transaction.Status != "PENDING" {
		t.Fatalf("receipt %s", rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/transactions/"+r.Transaction.ID {
		t.Errorf("Location %q", loc)
	}
	pollTx(t, h, carrierKey, r.Transaction.ID, "PENDING")
	close(release)
	v := pollTx(t, h, carrierKey, r.Transaction.ID, "COMMITTED")
	if v.BlockNumber == nil || *v.BlockNumber != 12 || v.Attempts != 2 || string(v.Result) != `{"blockNumber":12,"shipmentId":"SHP-1","txId":"`+v.ID+`"}` {
		t.Errorf("committed view %+v", v)
	}
}

func TestAsyncWriteThatFailsToCommitIsFailed(t *testing.T) {
	ledger := &fakeLedger{}
	ledger.start = func(req fabric.Request) (fabric.Submission, error) {
		id := nextTxID()
		return fakeSub{id: id, wait: func(context.Context) (fabric.Committed, error) {
			return fabric.Committed{}, &fabric.Error{Stage: fabric.StageCommit, TxID: id, TxCode: "MVCC_READ_CONFLICT", Retryable: true, Err: errors.New("mvcc")}
		}}, nil
	}
	h := newHarness(t, ledger)
	rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, withKey(carrierKey), withHeader("Prefer", "respond-async"))
	var r Receipt
	_ = json.Unmarshal(rec.Body.Bytes(), &r)
	v := pollTx(t, h, carrierKey, r.Transaction.ID, "FAILED")
	if v.Problem == nil || v.Problem.Status != 503 {
		t.Errorf("failed view %+v", v)
	}
}

func TestAsyncRefusalIsAnsweredAtOnce(t *testing.T) {
	h := newHarness(t, &fakeLedger{start: func(fabric.Request) (fabric.Submission, error) {
		return nil, refusal(shipment.Forbidden, "only the current custodian may do this")
	}})
	rec := h.do("POST", "/v1/shipments/SHP-1/readings", validReadings, withHeader("Prefer", "respond-async"))
	if rec.Code != 403 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestTransactionStatusComesFromTheLedger(t *testing.T) {
	known := strings.Repeat("ab", 32)
	h := newHarness(t, &fakeLedger{lookup: func(_, txID string) (fabric.TxRecord, error) {
		if txID == known {
			return fabric.TxRecord{TxID: txID, Found: true, Valid: true, Code: "VALID", BlockNumber: 3, Result: []byte(`{"shipmentId":"SHP-1"}`),
				CreatorMSPID: "ExporterMSP", Submitter: "exporter"}, nil
		}
		return fabric.TxRecord{TxID: txID}, nil
	}})
	rec := h.do("GET", "/v1/transactions/"+known, "")
	var v TxView
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != 200 || v.Status != "COMMITTED" || *v.BlockNumber != 3 ||
		string(v.Result) != `{"blockNumber":3,"shipmentId":"SHP-1"}` {
		t.Fatalf("known: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("GET", "/v1/transactions/"+strings.Repeat("cd", 32), "")
	if rec.Code != 404 {
		t.Fatalf("unknown: %d", rec.Code)
	}
	problemOf(t, rec)
}

func TestPaginationPassesTheCursorOn(t *testing.T) {
	h := newHarness(t, &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
		return []byte(`{"items":[{"id":"A"},{"id":"B"}],"bookmark":"\u0000shipment~x\u0000next"}`), nil
	}})
	rec := h.do("GET", "/v1/shipments?pageSize=2&buyer=RetailerMSP", "")
	var p page
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || len(p.Items) != 2 || p.NextCursor != encodeCursor("\x00shipment~x\x00next") {
		t.Fatalf("page %s", rec.Body)
	}
	if link := rec.Header().Get("Link"); !strings.Contains(link, "cursor="+p.NextCursor) || !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "buyer=RetailerMSP") {
		t.Errorf("Link %q", link)
	}
}

func TestReadiness(t *testing.T) {
	fail := errors.New("peer down")
	ledger := &fakeLedger{ready: func() error { return fail }}
	h := newHarness(t, ledger)
	rec := h.do("GET", "/readyz", "")
	if rec.Code != 503 {
		t.Fatalf("not ready: %d", rec.Code)
	}
	problemOf(t, rec)
	ledger.ready = nil
	h.now = h.now.Add(2 * time.Second) // past the cache
	if rec := h.do("GET", "/readyz", ""); rec.Code != 200 {
		t.Fatalf("ready: %d", rec.Code)
	}
}

func TestMetricsCountRequestsByRouteTemplate(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	h.do("GET", "/v1/shipments/SHP-1", "")
	h.do("GET", "/v1/shipments/SHP-2", "")
	h.do("GET", "/no/such/route", "")
	h.do("BREW", "/v1/shipments/SHP-1", "")
	h.do("X-RANDOM-1", "/v1/shipments/SHP-1", "")
	body := h.do("GET", "/metrics", "").Body.String()
	// The method label takes a handful of values, whatever clients send.
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "shiptrace_gateway_http_requests_total{") &&
			!strings.Contains(line, `method="GET"`) && !strings.Contains(line, `method="other"`) {
			t.Errorf("a method label beyond the known ones: %s", line)
		}
	}
	for _, want := range []string{
		`shiptrace_gateway_http_requests_total{method="GET",route="/v1/shipments/:id",status="200"} 2`,
		`route="unmatched",status="404"`,
		`shiptrace_gateway_http_request_duration_seconds_bucket`,
		`shiptrace_gateway_http_requests_in_flight`,
		`shiptrace_gateway_http_requests_total{method="other",route="/v1/shipments/:id",status="405"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestAccessLogCarriesTheRequestID(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	rec := h.do("GET", "/v1/shipments/SHP-1", "", withHeader("X-Request-Id", "erp-123"))
	if rec.Header().Get("X-Request-Id") != "erp-123" {
		t.Fatalf("request ID not kept")
	}
	rec = h.do("GET", "/v1/shipments/SHP-1", "", withHeader("X-Request-Id", "bad id\nwith newline"))
	if id := rec.Header().Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request ID kept: %q", id)
	}
	var found bool
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "http request" && m["request_id"] == "erp-123" {
			found = m["route"] == "/v1/shipments/:id" && m["status"] == float64(200) && m["caller"] == "exporter-erp"
		}
	}
	if !found {
		t.Errorf("no access log line with the request ID, route, status and caller:\n%s", h.logs)
	}
}

func TestPanicIsA500ProblemWithoutStack(t *testing.T) {
	h := newHarness(t, &fakeLedger{evaluate: func(fabric.Request) ([]byte, error) { panic("boom at secret.go") }})
	rec := h.do("GET", "/v1/shipments/SHP-1", "")
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	problemOf(t, rec)
	if strings.Contains(rec.Body.String(), "secret.go") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Error("the panic leaks")
	}
}

// TestOpenAPIDocumentMatchesTheRoutes: every echo route is in the document
// and every documented operation is routed.
func TestOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	h := newHarness(t, &fakeLedger{})
	routed := map[string]bool{}
	for _, r := range h.srv.Routes() {
		routed[r.Method+" "+openapiPath(r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range h.srv.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not documented: %v\ndocumented but not routed: %v", missing, extra)
	}
	rec := h.do("GET", "/v1/openapi.json", "")
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["openapi"] == nil {
		t.Fatalf("served document: %v", err)
	}
}

// TestOpenAPIResponsesMatchTheHandlers: the receipts and problems the
// handlers write validate against the documented schemas.
func TestOpenAPIResponsesMatchTheHandlers(t *testing.T) {
	h := newHarness(t, &fakeLedger{evaluate: func(req fabric.Request) ([]byte, error) {
		if req.Tx == "ShipmentHistory" {
			return []byte(`{"items":[{"txId":"t2","time":"2026-11-23T10:00:00Z","mspId":"ExporterMSP","shipment":{"id":"SHP-1","version":2}}],"bookmark":"h1.1.t2"}`), nil
		}
		if req.Tx == "Claims" {
			return []byte(`[{"id":"CLM-7K2Q9ZP4","shipmentId":"SHP-1","category":"damaged","wordsSha256":"` + strings.Repeat("ab", 32) +
				`","photoSha256s":["` + strings.Repeat("cd", 32) + `"],"openedAt":"2026-11-23T10:00:00Z","openedBy":"ExporterMSP","txId":"t3"}]`), nil
		}
		return []byte(`{"id":"SHP-1","status":"CREATED","version":1}`), nil
	}})
	for _, tc := range []struct{ method, path, body, prefer, schema string }{
		{"POST", "/v1/shipments", validCreate, "", "Receipt"},
		{"POST", "/v1/shipments/SHP-1/readings", validReadings, "", "Receipt"},
		{"POST", "/v1/shipments/SHP-1/ship", "", "return=representation", "Receipt"},
		{"POST", "/v1/shipments/SHP-1/ship", "", "respond-async", "Receipt"},
		{"GET", "/v1/shipments/SHP-1/history", "", "", "HistoryPage"},
		{"GET", "/v1/shipments/SHP-1/claims", "", "", "ClaimList"},
		{"POST", "/v1/shipments/x", "", "", "Problem"},
		{"GET", "/v1/shipments/%20", "", "", "Problem"},
	} {
		var opts []reqOpt
		if tc.prefer != "" {
			opts = append(opts, withHeader("Prefer", tc.prefer))
		}
		rec := h.do(tc.method, tc.path, tc.body, opts...)
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if err := h.srv.doc.Components.Schemas[tc.schema].Value.VisitJSON(v); err != nil {
			t.Errorf("%s %s: body does not match %s: %v", tc.method, tc.path, tc.schema, err)
		}
	}
}
