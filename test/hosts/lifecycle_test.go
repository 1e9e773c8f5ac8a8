package hosts_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// readAfter reads a shipment through member's own gateway until it shows at
// least version, sending the writer's block as X-Min-Block (the gateway's
// consistency token: the read waits, bounded, until the member's own peer
// has that block). Until every gateway honours the header the loop is the
// bounded wait; it returns the record and how long it took.
func readAfter(ctx context.Context, c *walk.Client, member, id string, block uint64, version int64, within time.Duration) (*shipment.Shipment, time.Duration, error) {
	start := time.Now()
	var got shipment.Shipment
	err := walk.Eventually(ctx, within, 50*time.Millisecond, func() error {
		r, err := c.Expect(ctx, http.StatusOK, member, http.MethodGet, "/v1/shipments/"+id, nil,
			map[string]string{"X-Min-Block": strconv.FormatUint(block, 10)})
		if err != nil {
			return err
		}
		if err := r.Decode(&got); err != nil {
			return err
		}
		if got.Version < version {
			return &staleError{member: member, id: id, got: got.Version, want: version}
		}
		return nil
	})
	return &got, time.Since(start), err
}

type staleError struct {
	member, id string
	got, want  int64
}

func (e *staleError) Error() string {
	return e.member + " reads " + e.id + " at version " + strconv.FormatInt(e.got, 10) + ", want " + strconv.FormatInt(e.want, 10)
}

// TestLifecycleAcrossHosts takes shipments through their whole life with
// each write sent by the member that makes it, through that member's own
// gateway on that member's host (create, ship and hand-over by the
// exporter, readings and hand-over by the carrier, delivery and rejection by
// the retailer), checks that each gateway holds only its own organisation's
// identity (another member's key is refused), that every member reads the
// other members' writes through its own gateway, and that the buyer's
// WhatsApp messages arrive exactly once from the exporter's notifier on the
// exporter's host.
func TestLifecycleAcrossHosts(t *testing.T) {
	net := testnet.RequireHosts(t)
	sys := net.System(t)
	if len(sys.Gateways) != 3 {
		t.Fatalf("want one gateway per member on the hosts layout, got %v", sys.Gateways)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := sys.Client()
	requireGatewaysReady(ctx, t, c)

	t.Run("each gateway holds only its own organisation", func(t *testing.T) {
		msp := regexp.MustCompile(`msp_id: (\w+)`)
		for member, mspID := range walk.Members {
			org, _ := topology.OrgByLabel(member)
			b, err := os.ReadFile(filepath.Join(net.Home, "services", "gateway-"+org.Label, "gateway.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msp.FindAllStringSubmatch(string(b), -1) {
				if m[1] != mspID {
					t.Errorf("%s's gateway configuration names an identity of %s", member, m[1])
				}
			}
			// Every key, sent to this member's gateway: only its own authenticates.
			raw := &walk.Client{Base: c.Member(member).Base, Keys: sys.Keys, HTTP: c.Member(member).HTTP}
			for other := range walk.Members {
				r, err := raw.Do(ctx, other, http.MethodGet, "/v1/shipments/NO-SUCH-"+other, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := http.StatusUnauthorized
				if other == member {
					want = http.StatusNotFound
				}
				if r.Status != want {
					t.Errorf("%s's gateway answers %s's key with %d, want %d", member, other, r.Status, want)
				}
			}
		}
	})

	start := time.Now()
	res, err := walk.Run(ctx, c, "HOSTS", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("walk-through across hosts: %d writes, each through its member's own gateway, in %s",
		len(res.Delivered.Steps)+len(res.Breached.Steps), time.Since(start).Round(time.Millisecond))

	t.Run("cross-member reads", func(t *testing.T) {
		for _, s := range []*walk.Story{res.Delivered, res.Breached} {
			last := s.Steps[len(s.Steps)-1]
			for member := range walk.Members {
				got, took, err := readAfter(ctx, c, member, s.ID, last.Block, s.Final.Version, 30*time.Second)
				if err != nil {
					t.Fatalf("%s reads %s after block %d: %v", member, s.ID, last.Block, err)
				}
				if got.Status != s.Final.Status || got.UpdatedTx != last.TxID {
					t.Errorf("%s reads %s: status %s last tx %s, want %s by %s", member, s.ID, got.Status, got.UpdatedTx, s.Final.Status, last.TxID)
				}
				t.Logf("%s read %s (%s, version %d) through its own gateway %s, after block %d, in %s",
					member, s.ID, got.Status, got.Version, c.Member(member).Base, last.Block, took.Round(time.Millisecond))
			}
		}
		// Read-your-writes across members, write by write: the next member
		// reads what the previous one just wrote, through its own gateway.
		id := walk.NewID("HOSTS-RYW")
		rc, err := c.Create(ctx, walk.NewShipment(id, nil), "")
		if err != nil {
			t.Fatal(err)
		}
		var worst time.Duration
		for i, step := range []struct{ writer, reader, action string }{
			{"exporter", "retailer", "ship"},
			{"exporter", "carrier", "handover"},
			{"carrier", "retailer", "handover"},
			{"retailer", "exporter", "deliver"},
		} {
			_, took, err := readAfter(ctx, c, step.reader, id, rc.Transaction.BlockNumber, int64(i+1), 30*time.Second)
			if err != nil {
				t.Fatalf("%s reads %s after %s's write in block %d: %v", step.reader, id, step.writer, rc.Transaction.BlockNumber, err)
			}
			worst = max(worst, took)
			var body any
			if step.action == "handover" {
				body = map[string]string{"toMSP": map[string]string{"exporter": "CarrierMSP", "carrier": "RetailerMSP"}[step.writer]}
			}
			if rc, err = c.Act(ctx, step.writer, id, step.action, body, ""); err != nil {
				t.Fatal(err)
			}
		}
		got, took, err := readAfter(ctx, c, "carrier", id, rc.Transaction.BlockNumber, 5, 30*time.Second)
		if err != nil || got.Status != shipment.StatusDelivered {
			t.Fatalf("carrier reads %s after the delivery: %v %v", id, got.Status, err)
		}
		t.Logf("figure: read-your-writes across members' gateways: worst %s until the reader's own peer had the writer's block",
			max(worst, took).Round(time.Millisecond))
	})

	t.Run("notifications", func(t *testing.T) {
		want := res.Expected()
		var tally walk.Tally
		err := walk.Eventually(ctx, 3*time.Minute, 200*time.Millisecond, func() error {
			msgs, err := walk.Messages(ctx, sys.StandinURL)
			if err != nil {
				return err
			}
			if tally = walk.Check(msgs, want); len(tally.Missing) > 0 {
				return &staleError{member: "stand-in", id: tally.String()}
			}
			return nil
		})
		if err != nil || !tally.OK() {
			t.Fatalf("WhatsApp messages: %v; %s", err, tally)
		}
		t.Logf("%d messages, each exactly once, from the notifier on the exporter's host", len(want))
	})
}
