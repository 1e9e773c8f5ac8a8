package contacts

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
)

// evaluator answers BuyerContact as the adapter would.
type evaluator struct {
	out []byte
	err error
	got fabric.Request
}

func (e *evaluator) Evaluate(_ context.Context, req fabric.Request) ([]byte, error) {
	e.got = req
	return e.out, e.err
}

func TestFabricBuyerContact(t *testing.T) {
	notFound := fmt.Errorf("evaluate: %w", shipment.Errorf(shipment.NotFound, "no contact for shipment S1"))
	unreachable := &fabric.Error{Stage: fabric.StageEvaluate, Retryable: true, Err: errors.New("peer down")}
	tests := []struct {
		name    string
		ev      *evaluator
		want    notifier.Contact
		wantErr error // nil: no error
	}{
		{"a contact", &evaluator{out: []byte(`{"phone":"+4915112345678","language":"de"}`)},
			notifier.Contact{Phone: "+4915112345678", Language: "de"}, nil},
		{"the contract's NOT_FOUND means no contact", &evaluator{err: notFound}, notifier.Contact{}, notifier.ErrNoContact},
		{"an empty answer means no contact", &evaluator{out: []byte("null")}, notifier.Contact{}, notifier.ErrNoContact},
		{"a network failure is kept for a retry", &evaluator{err: unreachable}, notifier.Contact{}, unreachable},
		{"a network failure says the source is unavailable", &evaluator{err: unreachable}, notifier.Contact{}, notifier.ErrContactsUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Fabric{Client: tt.ev, Identity: "notifier"}.BuyerContact(context.Background(), "S1")
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if c != tt.want {
				t.Fatalf("contact = %+v, want %+v", c, tt.want)
			}
			if r := tt.ev.got; r.Identity != "notifier" || r.Tx != "BuyerContact" || len(r.Args) != 1 || r.Args[0] != "S1" {
				t.Fatalf("request %+v", r)
			}
		})
	}
}

func TestAContractRefusalOfOneShipmentIsNotAnUnavailableSource(t *testing.T) {
	refused := fmt.Errorf("evaluate: %w", shipment.Errorf(shipment.Forbidden, "the caller may not read this contact"))
	_, err := Fabric{Client: &evaluator{err: refused}, Identity: "notifier"}.BuyerContact(context.Background(), "S1")
	if err == nil || errors.Is(err, notifier.ErrContactsUnavailable) || errors.Is(err, notifier.ErrNoContact) {
		t.Fatalf("err = %v, want a per-shipment error", err)
	}
}
