package fabric

import (
	"context"
	"encoding/json"
	"fmt"
)

// Changes follows the contract's chaincode events from the next block on,
// through the member's peer, and sends the shipment ID each event names
// ("" for an event about no shipment, such as a membership vote). The
// channel closes when the stream ends (ctx done, the peer gone); a caller
// that keeps copies of what it read must then assume it missed events.
func (c *Client) Changes(ctx context.Context, identity string) (<-chan string, error) {
	network, err := c.Network(identity)
	if err != nil {
		return nil, err
	}
	events, err := network.ChaincodeEvents(ctx, c.opts.Chaincode)
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s events: %w", c.opts.Chaincode, err)
	}
	out := make(chan string, 64)
	go func() {
		defer close(out)
		for ev := range events {
			var named struct {
				ShipmentID string `json:"shipmentId"`
			}
			_ = json.Unmarshal(ev.Payload, &named) // undecodable: "" means "something changed"
			select {
			case out <- named.ShipmentID:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
