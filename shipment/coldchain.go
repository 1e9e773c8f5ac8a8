package shipment

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// ColdChainState is the shipment-level verdict on temperature.
type ColdChainState string

// Cold-chain states. BREACHED is final.
const (
	ColdChainOK        ColdChainState = "OK"
	ColdChainExcursion ColdChainState = "EXCURSION"
	ColdChainBreached  ColdChainState = "BREACHED"
)

// Reading is one temperature measurement by one sensor. RecordedBy is set by
// the contract, never by the uploader: the MSP ID and enrolment ID of the
// identity that recorded the reading's batch.
type Reading struct {
	SensorID   string    `json:"sensorId"`
	Time       time.Time `json:"time"`
	Celsius    float64   `json:"celsius"`
	RecordedBy string    `json:"recordedBy,omitempty"`
}

// SensorState is what evaluation remembers of one sensor between batches:
// the time of its latest evaluated reading and, while the sensor is out of
// range, when its excursion began.
type SensorState struct {
	ID             string    `json:"id"`
	LastAt         time.Time `json:"lastAt"`
	ExcursionSince time.Time `json:"excursionSince,omitzero"`
}

// ColdChainSummary is the running result of evaluating every reading
// received so far.
type ColdChainSummary struct {
	State          ColdChainState `json:"state"`
	Count          int64          `json:"count"`
	LateCount      int64          `json:"lateCount,omitempty"`
	MinC           *float64       `json:"minC,omitempty"`
	MaxC           *float64       `json:"maxC,omitempty"`
	LastReading    *Reading       `json:"lastReading,omitempty"`
	ExcursionStart time.Time      `json:"excursionStart,omitzero"`
	BreachedAt     time.Time      `json:"breachedAt,omitzero"`
	BreachReason   string         `json:"breachReason,omitempty"`
	Sensors        []SensorState  `json:"sensors,omitempty"`
}

// FutureTolerance is how far after the transaction time a reading may be
// stamped: logger clocks drift.
const FutureTolerance = 5 * time.Minute

// RecordResult tells the contract what a batch did.
type RecordResult struct {
	Accepted int  // readings in the batch
	Late     int  // readings at or before their sensor's latest evaluated reading
	Breached bool // this batch breached the cold chain
}

// HistoryFunc returns every stored reading of one sensor of the shipment (in
// any order). Evaluation calls it only for sensors that received late readings.
type HistoryFunc func(sensorID string) ([]Reading, error)

// CompareReadings orders readings by time, then sensor, then temperature: the
// order in which they are evaluated and listed.
func CompareReadings(a, b Reading) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SensorID, b.SensorID); c != 0 {
		return c
	}
	return cmp.Compare(a.Celsius, b.Celsius)
}

// RecordReadings evaluates a batch uploaded by the custodian at transaction
// time at. Every reading must fall inside a custody period of the caller's
// organisation. The rule, per sensor:
//
//   - readings are evaluated in time order; the order inside a batch and the
//     order of batches never change the result, except that a breach, once
//     recorded, is final;
//   - a reading in [minC, maxC] is in range (the limits themselves are in range);
//   - an excursion starts at the first out-of-range reading and lasts until the
//     first later in-range reading of the same sensor (a gap in the data counts
//     as excursion); it breaches when it lasts longer than maxExcursionMinutes,
//     with the breach stamped at the reading that proves it; with a limit of 0
//     any out-of-range reading breaches;
//   - a reading beyond a hard limit breaches at once;
//   - a reading at or before the latest evaluated reading of its sensor is late:
//     the sensor's whole series (history plus batch) is evaluated again from
//     the start, so late data can reveal a breach, never hide one.
func (s *Shipment) RecordReadings(c Caller, at time.Time, batch []Reading, history HistoryFunc) (RecordResult, error) {
	if err := s.begin(c, OpRecordReadings, at); err != nil {
		return RecordResult{}, err
	}
	if err := ValidateReadings(batch, at); err != nil {
		return RecordResult{}, err
	}
	switch s.Status {
	case StatusCreated, StatusShipped, StatusInTransit:
	default:
		return RecordResult{}, s.conflictf(OpRecordReadings, "status is %s; readings are closed", s.Status)
	}

	if err := s.checkReadingsInCustody(c, batch); err != nil {
		return RecordResult{}, err
	}

	sorted := slices.Clone(batch)
	slices.SortFunc(sorted, CompareReadings)
	cc := &s.ColdChain
	res := RecordResult{Accepted: len(sorted)}

	// Order-independent aggregates.
	for i := range sorted {
		r := sorted[i]
		cc.Count++
		if cc.MinC == nil || r.Celsius < *cc.MinC {
			cc.MinC = ptr(r.Celsius)
		}
		if cc.MaxC == nil || r.Celsius > *cc.MaxC {
			cc.MaxC = ptr(r.Celsius)
		}
		if cc.LastReading == nil || CompareReadings(r, *cc.LastReading) > 0 {
			cc.LastReading = &r
		}
	}

	// Per-sensor evaluation, sensors in id order.
	bySensor := groupBySensor(sorted)
	var breach *breachFound
	for _, g := range bySensor {
		idx, found := slices.BinarySearchFunc(cc.Sensors, g.id, func(st SensorState, id string) int { return cmp.Compare(st.ID, id) })
		if !found {
			if len(cc.Sensors) >= MaxSensors {
				return RecordResult{}, Errorf(Invalid, "readings: a shipment has at most %d sensors", MaxSensors)
			}
			cc.Sensors = slices.Insert(cc.Sensors, idx, SensorState{ID: g.id})
		}
		st := &cc.Sensors[idx]
		late := 0
		for _, r := range g.readings {
			if !st.LastAt.IsZero() && !r.Time.After(st.LastAt) {
				late++
			}
		}
		series := g.readings
		if late > 0 {
			res.Late += late
			old, err := history(g.id)
			if err != nil {
				return RecordResult{}, fmt.Errorf("load readings of sensor %s: %w", g.id, err)
			}
			series = append(slices.Clone(old), g.readings...)
			slices.SortFunc(series, CompareReadings)
			*st = SensorState{ID: g.id}
		}
		for _, r := range series {
			if b := st.apply(s.ColdChainPolicy, r); b != nil && (breach == nil || b.at.Before(breach.at)) {
				breach = b
			}
		}
	}
	cc.LateCount += int64(res.Late)

	if breach != nil && cc.BreachedAt.IsZero() {
		cc.BreachedAt, cc.BreachReason = breach.at, breach.reason
		res.Breached = true
	}
	cc.ExcursionStart = time.Time{}
	for _, st := range cc.Sensors {
		if !st.ExcursionSince.IsZero() && (cc.ExcursionStart.IsZero() || st.ExcursionSince.Before(cc.ExcursionStart)) {
			cc.ExcursionStart = st.ExcursionSince
		}
	}
	switch {
	case !cc.BreachedAt.IsZero():
		cc.State = ColdChainBreached
	case !cc.ExcursionStart.IsZero():
		cc.State = ColdChainExcursion
	default:
		cc.State = ColdChainOK
	}
	s.stamp(c, at)
	return res, nil
}

type sensorGroup struct {
	id       string
	readings []Reading
}

// groupBySensor splits time-sorted readings by sensor, sensors in id order,
// each group still in time order.
func groupBySensor(sorted []Reading) []sensorGroup {
	bySensor := slices.Clone(sorted)
	slices.SortStableFunc(bySensor, func(a, b Reading) int { return cmp.Compare(a.SensorID, b.SensorID) })
	var groups []sensorGroup
	for _, r := range bySensor {
		if n := len(groups); n > 0 && groups[n-1].id == r.SensorID {
			groups[n-1].readings = append(groups[n-1].readings, r)
			continue
		}
		groups = append(groups, sensorGroup{id: r.SensorID, readings: []Reading{r}})
	}
	return groups
}

type breachFound struct {
	at     time.Time
	reason string
}

// apply evaluates one reading that is not earlier than the sensor's latest.
func (st *SensorState) apply(p ColdChainPolicy, r Reading) *breachFound {
	var b *breachFound
	out := r.Celsius < p.MinC || r.Celsius > p.MaxC
	limit := time.Duration(p.MaxExcursionMinutes) * time.Minute
	switch {
	case p.HardMinC != nil && r.Celsius < *p.HardMinC:
		b = &breachFound{r.Time, fmt.Sprintf("sensor %s read %g °C at %s, below the hard minimum %g °C", r.SensorID, r.Celsius, r.Time.Format(time.RFC3339), *p.HardMinC)}
	case p.HardMaxC != nil && r.Celsius > *p.HardMaxC:
		b = &breachFound{r.Time, fmt.Sprintf("sensor %s read %g °C at %s, above the hard maximum %g °C", r.SensorID, r.Celsius, r.Time.Format(time.RFC3339), *p.HardMaxC)}
	}
	if out && st.ExcursionSince.IsZero() {
		st.ExcursionSince = r.Time
	}
	if !st.ExcursionSince.IsZero() && b == nil {
		if d := r.Time.Sub(st.ExcursionSince); d > limit || (limit == 0 && out) {
			b = &breachFound{r.Time, fmt.Sprintf("sensor %s was outside %g..%g °C from %s for more than %d minutes",
				r.SensorID, p.MinC, p.MaxC, st.ExcursionSince.Format(time.RFC3339), p.MaxExcursionMinutes)}
		}
	}
	if !out {
		st.ExcursionSince = time.Time{}
	}
	st.LastAt = r.Time
	return b
}

func ptr[T any](v T) *T { return &v }

// ValidateReadings checks a batch: 1 to MaxBatchReadings readings, each with a
// sensor id, a time at millisecond precision not later than at plus
// FutureTolerance, and a plausible temperature. A zero at skips the time check.
func ValidateReadings(batch []Reading, at time.Time) error {
	var p problems
	if len(batch) == 0 || len(batch) > MaxBatchReadings {
		p.addf("readings", "must hold 1 to %d readings", MaxBatchReadings)
		return p.err()
	}
	for i, r := range batch {
		f := fmt.Sprintf("readings[%d]", i)
		if !sensorPattern.MatchString(r.SensorID) {
			p.addf(f+".sensorId", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
		}
		checkTime(&p, f+".time", r.Time)
		if r.Time.Nanosecond()%int(time.Millisecond) != 0 {
			p.addf(f+".time", "must have at most millisecond precision")
		}
		if !at.IsZero() && r.Time.After(at.Add(FutureTolerance)) {
			p.addf(f+".time", "must not be later than the transaction time plus %s", FutureTolerance)
		}
		checkCelsius(&p, f+".celsius", r.Celsius)
		if len(p) >= 10 {
			p.addf("readings", "further readings not checked")
			break
		}
	}
	return p.err()
}

// DecodeReadings parses a batch strictly and checks everything that does not
// depend on the transaction time.
func DecodeReadings(data []byte) ([]Reading, error) {
	var batch []Reading
	if err := decodeStrict("readings", data, &batch); err != nil {
		return nil, err
	}
	for i := range batch {
		batch[i].Time = batch[i].Time.UTC()
		if batch[i].RecordedBy != "" {
			return nil, Errorf(Invalid, "readings[%d].recordedBy: is set by the contract from the recording identity; leave it out", i)
		}
	}
	return batch, ValidateReadings(batch, time.Time{})
}
