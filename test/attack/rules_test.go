package attack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// submitPlain commits fn as p through an ordinary fabric-gateway client, as
// any application would.
func submitPlain(ctx context.Context, p *party, fn string, args ...string) attempt {
	_, commit, err := p.contract().SubmitAsyncWithContext(ctx, fn, client.WithArguments(args...))
	if err != nil {
		return attempt{err: fmt.Errorf("%s as %s: %w%s", fn, p, err, testnet.PeerMessages(err))}
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return attempt{err: fmt.Errorf("commit status of %s: %w", fn, err)}
	}
	return attempt{st: st}
}

// TestHandOverToNonMemberRefused: attack "hand-over to a non-member". The
// exporter hands custody to an MSP ID that is not a channel member (a typo,
// "RetailerMsp"). The key-level policy would then require that
// organisation, which has no peer and no identities, so nobody could ever
// change the shipment again. The contract must refuse, naming the MSP.
func TestHandOverToNonMemberRefused(t *testing.T) {
	l := openLedger(t)
	const stranger = "RetailerMsp"
	id := l.create(t, nil)
	l.do(t, mspExporter, "Ship", id)
	before := l.record(t, id)

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	a := submitPlain(ctx, l.users[mspExporter], "HandOver", id, stranger)
	l.assertRefused(t, "HandOver to non-member "+stranger, id, before, a)
	if a.err != nil && !strings.Contains(a.err.Error(), stranger) {
		t.Errorf("refusal does not name %s: %v", stranger, a.err)
	}
	if a.err == nil {
		s := l.shipment(t, id)
		t.Logf("shipment %s is now %s with custodian %q: its key policy requires an organisation that does not exist", id, s.Status, s.Custodian)
	}
}

// TestReadingsOutsideCustodyRefused: attack "readings inside another
// organisation's custody". The carrier, custodian now, uploads readings
// dated before it held the goods (while the exporter held them, or before
// the shipment existed) that break the cold chain, and so breaches a
// shipment for a time it was not responsible for. The contract must accept
// readings only for the uploader's own custody; the cold-chain summary must
// stay as it was.
func TestReadingsOutsideCustodyRefused(t *testing.T) {
	l := openLedger(t)
	tests := []struct {
		name         string
		maxExcursion int64
		readings     func(s shipment.Shipment) []shipment.Reading
	}{
		{
			// The exporter's custody lasted well under a second here, so the
			// policy tolerates no excursion at all to make a breach fit in it.
			name:         "dated during the exporter's custody, before the hand-over",
			maxExcursion: 0,
			readings: func(s shipment.Shipment) []shipment.Reading {
				from, until := s.CreatedAt, s.UpdatedAt // UpdatedAt: the hand-over
				step := until.Sub(from) / 3
				return []shipment.Reading{
					{SensorID: "LOGGER-ATK", Time: from.Add(step).Truncate(time.Millisecond).Add(time.Millisecond), Celsius: 15},
					{SensorID: "LOGGER-ATK", Time: from.Add(2 * step).Truncate(time.Millisecond), Celsius: 15},
				}
			},
		},
		{
			name:         "dated before the shipment existed",
			maxExcursion: 30,
			readings: func(s shipment.Shipment) []shipment.Reading {
				at := s.CreatedAt.Truncate(time.Millisecond)
				return []shipment.Reading{
					{SensorID: "LOGGER-ATK", Time: at.Add(-3 * time.Hour), Celsius: 15},
					{SensorID: "LOGGER-ATK", Time: at.Add(-2 * time.Hour), Celsius: 15},
					{SensorID: "LOGGER-ATK", Time: at.Add(-1 * time.Hour), Celsius: 15},
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := l.create(t, func(n *shipment.NewShipment) { n.ColdChain.MaxExcursionMinutes = tc.maxExcursion })
			l.do(t, mspExporter, "Ship", id)
			l.do(t, mspExporter, "HandOver", id, mspCarrier)
			s := l.shipment(t, id)
			before := l.record(t, id)
			batch := tc.readings(s)
			body, err := json.Marshal(batch)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			a := submitPlain(ctx, l.users[mspCarrier], "RecordReadings", id, string(body))
			l.assertRefused(t, fmt.Sprintf("carrier readings from %s to %s (custody since %s)",
				batch[0].Time.Format(time.RFC3339Nano), batch[len(batch)-1].Time.Format(time.RFC3339Nano),
				s.UpdatedAt.Format(time.RFC3339Nano)), id, before, a)
			if after := l.shipment(t, id); after.ColdChain.State != s.ColdChain.State {
				t.Errorf("ATTACK SUCCEEDED: cold chain of %s went from %s to %s: %s", id, s.ColdChain.State, after.ColdChain.State, after.ColdChain.BreachReason)
			}

			// The custodian's own readings must still be accepted.
			own, err := json.Marshal([]shipment.Reading{{SensorID: "LOGGER-OWN", Time: time.Now().UTC().Truncate(time.Millisecond), Celsius: 5}})
			if err != nil {
				t.Fatal(err)
			}
			if ok := submitPlain(ctx, l.users[mspCarrier], "RecordReadings", id, string(own)); ok.err != nil || !ok.st.Successful {
				t.Errorf("readings inside the carrier's own custody were not recorded: %+v", ok)
			}
		})
	}
}
