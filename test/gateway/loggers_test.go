package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// loggerBatch is n readings of one logger, step apart from start, all at
// celsius.
func loggerBatch(sensor string, start time.Time, n int, step time.Duration, celsius float64) map[string]any {
	rs := make([]map[string]any, n)
	for i := range rs {
		rs[i] = map[string]any{"sensorId": sensor, "time": start.Add(time.Duration(i) * step).UTC().Format(time.RFC3339Nano), "celsius": celsius}
	}
	return map[string]any{"readings": rs}
}

// inTransitThroughREST creates a shipment with the given excursion
// tolerance and hands it to the carrier; readings from the returned time on
// fall in the carrier's custody.
func inTransitThroughREST(t testing.TB, g *gateway, id string, maxExcursionMinutes int) time.Time {
	t.Helper()
	create := newShipment(id)
	create["coldChain"] = map[string]any{"minC": 2, "maxC": 8, "maxExcursionMinutes": maxExcursionMinutes}
	g.must(201, "POST", "/v1/shipments", "exporter", create)
	g.must(200, "POST", "/v1/shipments/"+id+"/ship", "exporter", nil)
	g.must(200, "POST", "/v1/shipments/"+id+"/handover", "exporter", map[string]any{"toMSP": "CarrierMSP"})
	return time.Now().Add(time.Second).Truncate(time.Millisecond) // readings have millisecond precision
}

// TestConcurrentLoggersOnOneShipment: eight loggers of one container upload
// at the same time through the gateway, and two of them report an
// excursion in the same round (the shipment tolerates none, so each
// breaches). Every batch must be answered 200, every reading counted once,
// and the breach announced by exactly one coldchain.breached event.
//
// Unpaired, each logger's first batch registers its sensor in the record,
// which every batch reads: the first batches, and all batches in flight
// beside them, conflict and the gateway's retries take them one block
// after another (six retries were not always enough: CI lost one batch of
// 32). Paired beforehand (POST /sensors), the first batches write only the
// loggers' own keys; only the breaching batches meet on the record.
func TestConcurrentLoggersOnOneShipment(t *testing.T) {
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	for _, paired := range []bool{false, true} {
		name := map[bool]string{false: "unpaired", true: "paired"}[paired]
		t.Run(name, func(t *testing.T) { concurrentLoggers(t, net, g, paired) })
	}
}

func concurrentLoggers(t *testing.T, net *testnet.Network, g *gateway, paired bool) {
	id := testnet.UniqueID("LOGGERS")
	gw := net.Gateway(t, "RetailerMSP")
	network := gw.GetNetwork(net.Profile.Channel)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	events, err := network.ChaincodeEvents(ctx, net.Profile.Chaincode)
	if err != nil {
		t.Fatal(err)
	}
	start := inTransitThroughREST(t, g, id, 0)
	const loggers, batches, size = 8, 4, 100
	if paired {
		sensors := make([]string, loggers)
		for l := range sensors {
			sensors[l] = fmt.Sprintf("L%d", l)
		}
		r := g.must(200, "POST", "/v1/shipments/"+id+"/sensors", "carrier", map[string]any{"sensors": sensors})
		if !strings.Contains(string(r.Body), `"registered":["L0","L1","L2","L3","L4","L5","L6","L7"]`) {
			t.Fatalf("pairing answered %s, want all eight registered", r.Body)
		}
	}

	var wg sync.WaitGroup
	var failed atomic.Int64
	var attempts [16]atomic.Int64 // batches by the attempts their commit took
	for l := range loggers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sensor := fmt.Sprintf("L%d", l)
			for b := range batches {
				celsius := 5.0
				if (l == 3 || l == 5) && b == 2 {
					celsius = 11
				}
				// 400 readings half a second apart: the last is 200 s after
				// the hand-over, inside the 5 minutes a reading may lead the
				// transaction clock.
				body := loggerBatch(sensor, start.Add(time.Duration(b*size)*500*time.Millisecond), size, 500*time.Millisecond, celsius)
				r := g.call("POST", "/v1/shipments/"+id+"/readings", "carrier", body, "Idempotency-Key", fmt.Sprintf("%s-%s-%d", id, sensor, b))
				if r.Status != http.StatusOK {
					failed.Add(1)
					t.Errorf("%s batch %d: %d %s", sensor, b, r.Status, r.Body)
					continue
				}
				var receipt struct {
					Transaction struct{ Attempts int } `json:"transaction"`
				}
				if err := json.Unmarshal(r.Body, &receipt); err != nil {
					t.Errorf("%s batch %d: receipt %s: %v", sensor, b, r.Body, err)
				}
				attempts[min(receipt.Transaction.Attempts, len(attempts)-1)].Add(1)
			}
		}()
	}
	wg.Wait()
	var spread []string
	for n := range attempts {
		if c := attempts[n].Load(); c > 0 {
			spread = append(spread, fmt.Sprintf("%d×%d", c, n))
		}
	}
	t.Logf("batches × attempts to commit: %s", strings.Join(spread, " "))
	if failed.Load() > 0 {
		t.Fatalf("%d of %d batches failed", failed.Load(), loggers*batches)
	}
	s := g.get(id)
	if s.ColdChain.Count != loggers*batches*size || s.ColdChain.State != "BREACHED" {
		t.Fatalf("cold chain %+v, want %d readings and BREACHED", s.ColdChain, loggers*batches*size)
	}
	breaches, recorded := 0, 0
	deadline := time.After(30 * time.Second)
	for recorded+breaches < loggers*batches {
		select {
		case ev := <-events:
			if !strings.Contains(string(ev.Payload), id) {
				continue
			}
			switch ev.EventName {
			case string(shipment.EventColdChainBreached):
				breaches++
			case string(shipment.EventReadingsRecorded):
				recorded++
			}
		case <-deadline:
			t.Fatalf("after 30 s: %d readings events and %d breach events of %d batches", recorded, breaches, loggers*batches)
		}
	}
	if breaches != 1 {
		t.Fatalf("%d coldchain.breached events, want exactly 1", breaches)
	}
	t.Logf("%d batches of %d readings from %d loggers on one shipment: all 200, %d readings, one breach event", loggers*batches, size, loggers, s.ColdChain.Count)
}
