package gateway_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// missingArg is a ledger that sends Ship without its argument, as a gateway
// built against another version of the contract might: the contract fails
// deterministically, without one of its codes (contractapi: "incorrect
// number of params").
type missingArg struct{ api.Ledger }

func (l missingArg) Start(ctx context.Context, req fabric.Request) (fabric.Submission, error) {
	if req.Tx == "Ship" {
		req.Args = nil
	}
	return l.Ledger.Start(ctx, req)
}

// TestContractFailureWithoutACodeIsFinal: on the real network, a contract
// failure without a code (contractapi's "incorrect number of params") is
// endorsed once and answered 502 without Retry-After, so no client retries
// a bug forever.
func TestContractFailureWithoutACodeIsFinal(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{wrap: func(l api.Ledger) api.Ledger { return missingArg{l} }})
	id := testnet.UniqueID("GW-NOCODE")
	g.must(201, "POST", "/v1/shipments", "exporter", newShipment(id))

	// The adapter's own verdict.
	_, err := g.client.Start(context.Background(), fabric.Request{Identity: "exporter", Tx: "Ship", Args: nil})
	var fe *fabric.Error
	if !errors.As(err, &fe) || fe.Reason != fabric.ReasonContract || fe.Retryable {
		t.Fatalf("Ship without its argument: %#v (%v), want a non-retryable contract failure", fe, err)
	}

	r := g.must(502, "POST", "/v1/shipments/"+id+"/ship", "exporter", nil)
	var p api.Problem
	r.json(t, &p)
	if p.Type != "urn:shiptrace:problem:contract-failed" || r.Header.Get("Retry-After") != "" {
		t.Fatalf("problem %s, Retry-After %q: want contract-failed without Retry-After", r.Body, r.Header.Get("Retry-After"))
	}
	if n := counter(t, g.reg, "shiptrace_gateway_fabric_endorse_retries_total"); n != 0 {
		t.Errorf("the failure was endorsed again %v times", n)
	}
	if got := g.get(id).Status; got != "CREATED" {
		t.Errorf("status %s after the failed ship, want CREATED", got)
	}
}

// counter sums a counter family across its labels.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
