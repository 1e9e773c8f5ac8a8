package intake

import (
	"context"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/notifier"
)

// FabricSource streams chaincode events through the Fabric Gateway.
type FabricSource struct {
	Network   *client.Network
	Chaincode string
	// StartBlock is where a notifier with no checkpoint starts reading.
	StartBlock uint64
}

// gatewayCheckpoint adapts our checkpoint to the gateway's: start at the
// block of the last recorded event and skip its transaction and everything
// before it in that block. A block can hold several of our events, so the
// block number alone would replay or lose some.
type gatewayCheckpoint notifier.Checkpoint

func (c gatewayCheckpoint) BlockNumber() uint64   { return c.Block }
func (c gatewayCheckpoint) TransactionID() string { return c.TxID }

// Stream implements Source.
func (f FabricSource) Stream(ctx context.Context, after notifier.Checkpoint, out chan<- notifier.ChainEvent) error {
	var opt client.ChaincodeEventsOption
	if after.IsZero() {
		opt = client.WithStartBlock(f.StartBlock)
	} else {
		opt = client.WithCheckpoint(gatewayCheckpoint(after))
	}
	events, err := f.Network.ChaincodeEvents(ctx, f.Chaincode, opt)
	if err != nil {
		return fmt.Errorf("subscribe to %s events: %w", f.Chaincode, err)
	}
	for ev := range events {
		select {
		case out <- notifier.ChainEvent{Block: ev.BlockNumber, TxID: ev.TransactionID, Name: ev.EventName, Payload: ev.Payload}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The gateway closes the channel without saying why (peer gone,
	// connection reset); the runner reconnects from the checkpoint.
	return errors.New("peer closed the event stream")
}
