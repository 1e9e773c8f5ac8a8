// Package contacts finds buyers' WhatsApp contacts: from the contract's
// BuyerContact transaction (the exporter's private data) or from a local
// file for running without a network. Contacts are personal data: errors
// and logs here name shipments, never numbers or names.
package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/shipment"
)

// Evaluator runs a query through the Fabric adapter.
type Evaluator interface {
	Evaluate(ctx context.Context, req fabric.Request) ([]byte, error)
}

var _ Evaluator = (*fabric.Client)(nil)

// Fabric reads contacts through the contract's BuyerContact evaluate
// transaction, which only the shipment's exporter org may call. The adapter
// bounds the call by its evaluate timeout, moves to another peer of the
// organisation when one is unreachable, and turns the contract's refusals
// into *shipment.Error.
type Fabric struct {
	Client   Evaluator
	Identity string // the adapter member the notifier signs as
}

// BuyerContact implements notifier.ContactSource. NOT_FOUND from the
// contract means no contact; a retryable network failure is
// ErrContactsUnavailable (the whole intake waits); anything else concerns
// this shipment (its event is set aside and retried on its own).
func (f Fabric) BuyerContact(ctx context.Context, shipmentID string) (notifier.Contact, error) {
	if err := ctx.Err(); err != nil {
		return notifier.Contact{}, err
	}
	raw, err := f.Client.Evaluate(ctx, fabric.Request{Identity: f.Identity, Tx: string(shipment.OpReadContact), Args: []string{shipmentID}})
	if err != nil {
		if shipment.ErrorCode(err) == shipment.NotFound {
			return notifier.Contact{}, notifier.ErrNoContact
		}
		var fe *fabric.Error
		if errors.As(err, &fe) && fe.Retryable {
			return notifier.Contact{}, fmt.Errorf("evaluate BuyerContact(%s): %w: %w", shipmentID, notifier.ErrContactsUnavailable, err)
		}
		return notifier.Contact{}, fmt.Errorf("evaluate BuyerContact(%s): %w", shipmentID, err)
	}
	if len(strings.TrimSpace(string(raw))) == 0 || string(raw) == "null" {
		return notifier.Contact{}, notifier.ErrNoContact
	}
	var c notifier.Contact
	if err := json.Unmarshal(raw, &c); err != nil {
		return notifier.Contact{}, fmt.Errorf("decode BuyerContact(%s): %w", shipmentID, err)
	}
	return c, nil
}

// File serves contacts from a JSON file {shipmentId: Contact}, read at
// start. It is for local runs and tests without the exporter's private data.
type File struct {
	byShipment map[string]notifier.Contact
}

// LoadFile reads a contact file.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read contacts file: %w", err)
	}
	m := map[string]notifier.Contact{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse contacts file %s: %w", path, err)
	}
	return &File{byShipment: m}, nil
}

// BuyerContact implements notifier.ContactSource.
func (f *File) BuyerContact(ctx context.Context, shipmentID string) (notifier.Contact, error) {
	c, ok := f.byShipment[shipmentID]
	if !ok {
		return notifier.Contact{}, notifier.ErrNoContact
	}
	return c, nil
}

// Chain asks each source in turn and returns the first contact found.
type Chain []notifier.ContactSource

// BuyerContact implements notifier.ContactSource.
func (c Chain) BuyerContact(ctx context.Context, shipmentID string) (notifier.Contact, error) {
	for _, s := range c {
		ct, err := s.BuyerContact(ctx, shipmentID)
		if err == nil {
			return ct, nil
		}
		if !errors.Is(err, notifier.ErrNoContact) {
			return ct, err
		}
	}
	return notifier.Contact{}, notifier.ErrNoContact
}
