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

// record feeds batches to a shipment in transit (policy 2..8 °C, 30
// minutes), keeping its cold chain in m.
func record(t *testing.T, s *Shipment, m *memStore, batches ...[]Reading) (last RecordResult) {
	t.Helper()
	for i, b := range batches {
		res, err := recordInto(s, m, carrier, at(24*60), b)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
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
			record(t, s, &memStore{}, tt.batches...)
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
	s, m := inStatus(t, StatusInTransit), &memStore{}
	if res := record(t, s, m, []Reading{rd("S1", 0, 9)}); res.Breached {
		t.Fatal("first batch reported a breach")
	}
	if res := record(t, s, m, []Reading{rd("S1", 40, 9)}); !res.Breached {
		t.Fatal("breaching batch did not report the breach")
	}
	res, err := recordInto(s, m, carrier, at(24*60), []Reading{rd("S2", 80, 9), rd("S2", 200, 9)})
	if err != nil || res.Breached {
		t.Fatalf("batch after the breach: breached=%v err=%v", res.Breached, err)
	}
}

func TestSummaryAggregates(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	res := record(t, s, &memStore{}, []Reading{rd("S1", 10, 4), rd("S2", 20, -1)}, []Reading{rd("S1", 5, 7.5)})
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
		record(t, whole, &memStore{}, series)

		shuffled := slices.Clone(series)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var batches [][]Reading
		for len(shuffled) > 0 {
			n := 1 + rng.IntN(min(10, len(shuffled)))
			batches = append(batches, shuffled[:n])
			shuffled = shuffled[n:]
		}
		split := inStatus(t, StatusInTransit)
		record(t, split, &memStore{}, batches...)

		a, b := whole.ColdChain, split.ColdChain
		if a.Count != b.Count || *a.MinC != *b.MinC || *a.MaxC != *b.MaxC || *a.MeanC != *b.MeanC ||
			a.OutOfRangeMinutes != b.OutOfRangeMinutes || !reflect.DeepEqual(a.LastReading, b.LastReading) {
			t.Fatalf("round %d: batched aggregates differ:\nwhole %+v\nsplit %+v", round, a, b)
		}
		for i := range a.Sensors {
			// Everything but the breach stamp and the late count must match:
			// a breach is final where it was first proved, so late data can
			// only add breaches, and the late count depends on the split.
			sa, sb := a.Sensors[i], b.Sensors[i]
			if !sa.BreachedAt.IsZero() && sb.BreachedAt.IsZero() {
				t.Fatalf("round %d: batching hid the breach of sensor %s", round, sa.ID)
			}
			sa.BreachedAt, sa.BreachReason, sa.LateCount = time.Time{}, "", 0
			sb.BreachedAt, sb.BreachReason, sb.LateCount = time.Time{}, "", 0
			if sa != sb {
				t.Fatalf("round %d: sensor state differs:\nwhole %+v\nsplit %+v", round, sa, sb)
			}
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
			_, err := recordInto(s, &memStore{}, tt.by, at(24*60), tt.batch)
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
	_, err := recordInto(s, &memStore{}, carrier, at(24*60), batch)
	wantCode(t, err, Invalid)
}

// TestLateReadingCostFollowsItsWindow: a late reading reads back only the
// stored readings of the window it can change, so its cost is the same on a
// sensor with 1,000 readings and with 100,000; and it is still evaluated
// correctly (here it reveals an excursion that breaches).
func TestLateReadingCostFollowsItsWindow(t *testing.T) {
	read := map[int]int{}
	for _, n := range []int{1_000, 100_000} {
		s, m := inStatus(t, StatusInTransit), &memStore{}
		// One reading a minute, in range, except a 20-minute excursion.
		var series []Reading
		for i := range n {
			c := 5.0
			if i >= n/2 && i < n/2+20 {
				c = 9
			}
			series = append(series, Reading{SensorID: "S1", Time: t0.Add(time.Duration(i) * time.Minute), Celsius: c})
		}
		now := series[n-1].Time.Add(time.Minute)
		for i := 0; i < n; i += MaxBatchReadings {
			if _, err := recordInto(s, m, carrier, now, series[i:min(i+MaxBatchReadings, n)]); err != nil {
				t.Fatal(err)
			}
		}
		// The excursion runs from minute n/2 to the in-range reading at
		// n/2+20. A late out-of-range reading at n/2-1 makes it start a
		// minute earlier: 21 minutes, under the 30-minute limit.
		m.seriesRead = 0
		late := []Reading{{SensorID: "S1", Time: t0.Add(time.Duration(n/2-1) * time.Minute), Celsius: 9}}
		res, err := recordInto(s, m, carrier, now, late)
		if err != nil || res.Late != 1 || res.Breached {
			t.Fatalf("n=%d: late reading: %+v, %v", n, res, err)
		}
		read[n] = m.seriesRead
		if got := s.ColdChain.Sensors[0].OutOfRangeMs; got != 21*60_000 {
			t.Fatalf("n=%d: out of range %d ms after the late reading, want 21 minutes", n, got)
		}
		// A late reading beyond the hard limit breaches.
		s.ColdChainPolicy.HardMaxC = ptr(12.0)
		res, err = recordInto(s, m, carrier, now, []Reading{{SensorID: "S1", Time: t0.Add(time.Duration(n/4) * time.Minute).Add(30 * time.Second), Celsius: 13}})
		if err != nil || !res.Breached {
			t.Fatalf("n=%d: late reading above the hard maximum: %+v, %v", n, res, err)
		}
	}
	t.Logf("readings read back for one late reading: %v", read)
	if read[100_000] != read[1_000] || read[1_000] > 200 {
		t.Fatalf("a late reading read back %v stored readings: its cost must not grow with the series", read)
	}
}

// TestBreachAnnouncedOnceAcrossSensors: two sensors breach in batches that
// run side by side. Whichever commits first records the shipment's breach;
// the other, run again by the gateway after Fabric refuses its stale read
// of the verdict, records its sensor's breach but announces nothing.
func TestBreachAnnouncedOnceAcrossSensors(t *testing.T) {
	for _, first := range []string{"S1", "S2"} {
		s, m := inStatus(t, StatusInTransit), &memStore{}
		record(t, s, m, []Reading{rd("S1", 0, 5), rd("S2", 0, 5)})
		hot := func(id string) []Reading { return []Reading{rd(id, 10, 9), rd(id, 50, 9)} }
		second := map[string]string{"S1": "S2", "S2": "S1"}[first]
		committed := *s // both endorsed on the same committed record
		other := committed
		a, err := s.RecordReadings(carrier, at(24*60), hot(first), m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := other.RecordReadings(carrier, at(24*60), hot(second), m)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Result.Breached || !b.Result.Breached || !a.RecordChanged || !b.RecordChanged {
			t.Fatalf("both batches, run on the same state, must find the breach and rewrite the record (the key they meet on)")
		}
		m.apply(hot(first), a)
		again, err := recordInto(s, m, carrier, at(24*60), hot(second))
		if err != nil || again.Breached {
			t.Fatalf("the second batch run again announced the breach again: %+v %v", again, err)
		}
		if s.ColdChain.State != ColdChainBreached || !strings.Contains(s.ColdChain.BreachReason, first) {
			t.Fatalf("breach = %s %q, want the first committed (%s)", s.ColdChain.State, s.ColdChain.BreachReason, first)
		}
		for _, st := range s.ColdChain.Sensors {
			if st.BreachedAt.IsZero() {
				t.Fatalf("sensor %s lost its own breach", st.ID)
			}
		}
	}
}

// TestBatchesOfDifferentSensorsCommute: batches that share no sensor give
// the same state in either order, and neither reads the other's summary.
func TestBatchesOfDifferentSensorsCommute(t *testing.T) {
	x := []Reading{rd("S1", 0, 5), rd("S1", 10, 9), rd("S1", 50, 5)}
	y := []Reading{rd("S2", 5, 1), rd("S2", 20, 5)}
	var got []ColdChainSummary
	for _, order := range [][][]Reading{{x, y}, {y, x}} {
		s, m := inStatus(t, StatusInTransit), &memStore{}
		record(t, s, m, []Reading{rd("S1", 0, 5), rd("S2", 0, 5)})
		record(t, s, m, order...)
		got = append(got, s.ColdChain)
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("order changed the result:\n%+v\n%+v", got[0], got[1])
	}
}

// TestLaterBatchesLeaveTheRecord: only a batch that registers a sensor or
// finds the first breach changes the shipment record; every other batch
// changes its sensors' summaries alone, so batches of registered sensors
// never meet on the record.
func TestLaterBatchesLeaveTheRecord(t *testing.T) {
	s, m := inStatus(t, StatusInTransit), &memStore{}
	steps := []struct {
		batch   []Reading
		changed bool
	}{
		{[]Reading{rd("S1", 0, 5)}, true},                    // registers S1
		{[]Reading{rd("S1", 10, 5), rd("S1", 20, 6)}, false}, // S1 again
		{[]Reading{rd("S1", 30, 9), rd("S1", 70, 9)}, true},  // first breach
		{[]Reading{rd("S1", 80, 9)}, false},                  // breached already
		{[]Reading{rd("S2", 80, 5)}, true},                   // registers S2
	}
	for i, st := range steps {
		before := *s
		ch, err := s.RecordReadings(carrier, at(24*60), st.batch, m)
		if err != nil {
			t.Fatal(err)
		}
		m.apply(st.batch, ch)
		if ch.RecordChanged != st.changed {
			t.Fatalf("batch %d: record changed %v, want %v", i, ch.RecordChanged, st.changed)
		}
		if !st.changed && !reflect.DeepEqual(before, *s) {
			t.Fatalf("batch %d changed the record without saying so", i)
		}
	}
}
