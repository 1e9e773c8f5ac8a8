package shipment

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// min returns t0 plus m minutes, for readable reading times.
func at(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

func rd(sensor string, minute, c float64) Reading {
	return Reading{SensorID: sensor, Time: at(minute), Celsius: c}
}

// record feeds batches to a shipment in transit (policy 2..8 °C, 30 minutes),
// serving late-reading history from what was recorded before.
func record(t *testing.T, s *Shipment, batches ...[]Reading) (last RecordResult) {
	t.Helper()
	var stored []Reading
	for i, b := range batches {
		res, err := s.RecordReadings(carrier, at(24*60), b, func(sensor string) ([]Reading, error) {
			var out []Reading
			for _, r := range stored {
				if r.SensorID == sensor {
					out = append(out, r)
				}
			}
			return out, nil
		})
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		stored = append(stored, b...)
		last = res
	}
	return last
}

func TestColdChainEvaluation(t *testing.T) {
	hard := func(s *Shipment) { s.ColdChainPolicy.HardMaxC = ptr(12.0) }
	zero := func(s *Shipment) { s.ColdChainPolicy.MaxExcursionMinutes = 0 }
	tests := []struct {
		name      string
		policy    func(s *Shipment)
		batches   [][]Reading
		state     ColdChainState
		breachAt  float64 // minutes; -1 for none
		excursion float64 // start minute of an open excursion; -1 for none
	}{
		{"all in range", nil, [][]Reading{{rd("S1", 0, 4), rd("S1", 10, 6)}}, ColdChainOK, -1, -1},
		{"exactly at the limits is in range", nil, [][]Reading{{rd("S1", 0, 2), rd("S1", 10, 8)}}, ColdChainOK, -1, -1},
		{"just above max starts an excursion", nil, [][]Reading{{rd("S1", 0, 4), rd("S1", 10, 8.01)}}, ColdChainExcursion, -1, 10},
		{"excursion lasting exactly the limit is tolerated", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 30, 9), rd("S1", 31, 5)}}, ColdChainBreached, 31, -1},
		{"excursion ending at exactly the limit is tolerated", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 15, 9), rd("S1", 30, 5)}}, ColdChainOK, -1, -1},
		{"excursion ending just before the limit is tolerated", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 29.99, 5)}}, ColdChainOK, -1, -1},
		{"ongoing excursion one second past the limit breaches", nil,
			[][]Reading{{rd("S1", 0, 1), {SensorID: "S1", Time: at(30).Add(time.Second), Celsius: 1}}}, ColdChainBreached, 30 + 1.0/60, -1},
		{"gap in data during an excursion counts as excursion", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 60, 5)}}, ColdChainBreached, 60, -1},
		{"breach inside a batch is stamped at the proving reading", nil,
			[][]Reading{{rd("S1", 0, 5), rd("S1", 10, 9), rd("S1", 25, 9), rd("S1", 41, 9), rd("S1", 50, 5), rd("S1", 60, 5)}}, ColdChainBreached, 41, -1},
		{"breach is final", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 45, 9)}, {rd("S1", 50, 5)}}, ColdChainBreached, 45, -1},
		{"excursion spanning batches", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 20, 9)}, {rd("S1", 31, 9)}}, ColdChainBreached, 31, -1},
		{"sensors are evaluated separately", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S2", 10, 5), rd("S1", 20, 5), rd("S2", 40, 9)}}, ColdChainExcursion, -1, 40},
		{"one sensor in range does not end another's excursion", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S2", 20, 5), rd("S1", 40, 9)}}, ColdChainBreached, 40, -1},
		{"order inside a batch does not matter", nil,
			[][]Reading{{rd("S1", 41, 9), rd("S1", 0, 5), rd("S1", 25, 9), rd("S1", 10, 9)}}, ColdChainBreached, 41, -1},
		{"late readings reveal a hidden excursion", nil,
			// in-range reading from the future first, then the excursion before it
			[][]Reading{{rd("S1", 120, 5)}, {rd("S1", 0, 9), rd("S1", 20, 9), rd("S1", 40, 9), rd("S1", 60, 9)}}, ColdChainBreached, 40, -1},
		{"late in-range reading splits an excursion", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 25, 9)}, {rd("S1", 10, 5)}, {rd("S1", 45, 9)}}, ColdChainExcursion, -1, 25},
		{"late in-range reading shortens an open excursion", nil,
			[][]Reading{{rd("S1", 0, 9), rd("S1", 25, 9)}, {rd("S1", 10, 5)}}, ColdChainExcursion, -1, 25},
		{"hard limit breaches at once", hard, [][]Reading{{rd("S1", 0, 5), rd("S1", 5, 12.5)}}, ColdChainBreached, 5, -1},
		{"hard limit itself does not breach", hard, [][]Reading{{rd("S1", 0, 12)}}, ColdChainExcursion, -1, 0},
		{"zero tolerance breaches on the first excursion reading", zero, [][]Reading{{rd("S1", 0, 5), rd("S1", 5, 1.9)}}, ColdChainBreached, 5, -1},
		{"duplicate readings are harmless", nil, [][]Reading{{rd("S1", 0, 9), rd("S1", 0, 9)}, {rd("S1", 0, 9)}}, ColdChainExcursion, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inStatus(t, StatusInTransit)
			if tt.policy != nil {
				tt.policy(s)
			}
			record(t, s, tt.batches...)
			cc := s.ColdChain
			if cc.State != tt.state {
				t.Fatalf("state = %s, want %s (%+v)", cc.State, tt.state, cc)
			}
			if tt.breachAt >= 0 && !cc.BreachedAt.Equal(at(tt.breachAt)) {
				t.Fatalf("breachedAt = %s, want %s", cc.BreachedAt, at(tt.breachAt))
			}
			if tt.breachAt < 0 && !cc.BreachedAt.IsZero() {
				t.Fatalf("unexpected breach at %s: %s", cc.BreachedAt, cc.BreachReason)
			}
			if tt.excursion >= 0 && !cc.ExcursionStart.Equal(at(tt.excursion)) {
				t.Fatalf("excursionStart = %s, want %s", cc.ExcursionStart, at(tt.excursion))
			}
			if tt.state == ColdChainBreached && !strings.Contains(cc.BreachReason, "S") {
				t.Fatalf("breach reason %q does not name the sensor", cc.BreachReason)
			}
		})
	}
}

func TestBreachReportedOnlyByTheBatchThatCausesIt(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	if res := record(t, s, []Reading{rd("S1", 0, 9)}); res.Breached {
		t.Fatal("first batch reported a breach")
	}
	if res := record(t, s, []Reading{rd("S1", 40, 9)}); !res.Breached {
		t.Fatal("breaching batch did not report the breach")
	}
	res, err := s.RecordReadings(carrier, at(24*60), []Reading{rd("S1", 80, 9)}, noHistory)
	if err != nil || res.Breached {
		t.Fatalf("batch after the breach: breached=%v err=%v", res.Breached, err)
	}
}

func TestSummaryAggregates(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	res := record(t, s, []Reading{rd("S1", 10, 4), rd("S2", 20, -1)}, []Reading{rd("S1", 5, 7.5)})
	cc := s.ColdChain
	if cc.Count != 3 || *cc.MinC != -1 || *cc.MaxC != 7.5 || cc.LateCount != 1 || res.Late != 1 {
		t.Fatalf("summary = count %d min %v max %v late %d", cc.Count, *cc.MinC, *cc.MaxC, cc.LateCount)
	}
	if cc.LastReading.SensorID != "S2" || !cc.LastReading.Time.Equal(at(20)) {
		t.Fatalf("lastReading = %+v, want the latest by time", cc.LastReading)
	}
	if got := []string{cc.Sensors[0].ID, cc.Sensors[1].ID}; !slices.Equal(got, []string{"S1", "S2"}) {
		t.Fatalf("sensors = %v, want sorted", got)
	}
}

// TestBatchingDoesNotChangeTheVerdict: however a series is split into batches
// and ordered, the final per-sensor state and aggregates equal evaluating the
// whole series at once, and a breach in the whole series is always found.
func TestBatchingDoesNotChangeTheVerdict(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var series []Reading
		for i := range 40 {
			c := 5.0
			if rng.IntN(4) == 0 {
				c = 9
			}
			series = append(series, rd([]string{"A", "B", "C"}[rng.IntN(3)], float64(i*7+rng.IntN(5)), c))
		}
		whole := inStatus(t, StatusInTransit)
		record(t, whole, series)

		shuffled := slices.Clone(series)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var batches [][]Reading
		for len(shuffled) > 0 {
			n := 1 + rng.IntN(min(10, len(shuffled)))
			batches = append(batches, shuffled[:n])
			shuffled = shuffled[n:]
		}
		split := inStatus(t, StatusInTransit)
		record(t, split, batches...)

		a, b := whole.ColdChain, split.ColdChain
		if !reflect.DeepEqual(a.Sensors, b.Sensors) || a.Count != b.Count || *a.MinC != *b.MinC || *a.MaxC != *b.MaxC ||
			!reflect.DeepEqual(a.LastReading, b.LastReading) {
			t.Fatalf("round %d: batched state differs:\nwhole %+v\nsplit %+v", round, a, b)
		}
		if a.State == ColdChainBreached && b.State != ColdChainBreached {
			t.Fatalf("round %d: batching hid a breach", round)
		}
	}
}

func TestRecordReadingsRefusals(t *testing.T) {
	ok := []Reading{rd("S1", 0, 5)}
	tests := []struct {
		name   string
		status Status
		by     Caller
		batch  []Reading
		code   Code
		want   string
	}{
		{"exporter is not the custodian in transit", StatusInTransit, exporter, ok, Forbidden, "current custodian"},
		{"delivered shipment is closed", StatusDelivered, buyer, ok, Conflict, "readings are closed"},
		{"empty batch", StatusInTransit, carrier, nil, Invalid, "readings: must hold 1 to 1000"},
		{"too many readings", StatusInTransit, carrier, make([]Reading, MaxBatchReadings+1), Invalid, "readings: must hold"},
		{"reading from the future", StatusInTransit, carrier, []Reading{rd("S1", 24*60+6, 5)}, Invalid, "readings[0].time: must not be later"},
		{"sub-millisecond time", StatusInTransit, carrier, []Reading{{SensorID: "S1", Time: t0.Add(time.Microsecond), Celsius: 5}}, Invalid, "millisecond precision"},
		{"implausible temperature", StatusInTransit, carrier, []Reading{rd("S1", 0, 250)}, Invalid, "readings[0].celsius"},
		{"bad sensor id", StatusInTransit, carrier, []Reading{rd("S 1", 0, 5)}, Invalid, "readings[0].sensorId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inStatus(t, tt.status)
			before := s.ColdChain
			_, err := s.RecordReadings(tt.by, at(24*60), tt.batch, noHistory)
			wantCode(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(before, s.ColdChain) {
				t.Fatal("refused batch changed the summary")
			}
		})
	}
}

func TestTooManySensors(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	var batch []Reading
	for i := range MaxSensors + 1 {
		batch = append(batch, rd("S"+strings.Repeat("x", i%60)+string(rune('a'+i/60)), float64(i), 5))
	}
	_, err := s.RecordReadings(carrier, at(24*60), batch, noHistory)
	wantCode(t, err, Invalid)
}
