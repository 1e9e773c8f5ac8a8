package shipment

import (
	"cmp"
	"fmt"
	"math"
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

// SensorSummary is what the ledger keeps of one sensor, under a key of its
// own: batches from different sensors (a container's several loggers) never
// write the same key, so they commit side by side instead of conflicting.
// Everything in it is order-free (counts, extremes, an integer sum, the
// first and latest reading) except the evaluation state (the open excursion,
// the time already spent out of range, the breach), which the rules below
// keep equal to evaluating the sensor's whole series at once.
type SensorSummary struct {
	ID        string    `json:"id"`
	Count     int64     `json:"count"`
	LateCount int64     `json:"lateCount,omitempty"`
	MinC      float64   `json:"minC"`
	MaxC      float64   `json:"maxC"`
	SumMilliC int64     `json:"sumMilliC"` // sum of readings in m°C: an exact, order-free mean
	FirstAt   time.Time `json:"firstAt"`
	Last      Reading   `json:"last"` // the latest reading (CompareReadings order)
	// ExcursionSince is when the sensor's open excursion began (zero: in range).
	ExcursionSince time.Time `json:"excursionSince,omitzero"`
	// OutOfRangeMs is the time spent in closed excursions, each from its
	// first out-of-range reading to the in-range reading that ended it.
	OutOfRangeMs int64     `json:"outOfRangeMs,omitempty"`
	BreachedAt   time.Time `json:"breachedAt,omitzero"`
	BreachReason string    `json:"breachReason,omitempty"`
}

// OutOfRange is the sensor's time out of range, the open excursion counted
// up to its latest reading.
func (st SensorSummary) OutOfRange() time.Duration {
	d := time.Duration(st.OutOfRangeMs) * time.Millisecond
	if !st.ExcursionSince.IsZero() {
		d += st.Last.Time.Sub(st.ExcursionSince)
	}
	return d
}

// ColdChainVerdict is the shipment-level part of the cold chain, kept in the
// shipment record: which sensors report for the shipment and the breach,
// once found. A batch rewrites the record only when it brings a sensor for
// the first time or finds the first breach, so the record is where
// concurrent breaching batches meet: the second to commit fails Fabric's
// read check, is run again, finds the breach recorded and announces
// nothing. That makes the breach announced exactly once whatever the
// interleaving. And the record's key-level policy, set at creation, guards
// the verdict and the registration of every sensor.
type ColdChainVerdict struct {
	Sensors      []string  `json:"sensors,omitempty"` // sorted
	BreachedAt   time.Time `json:"breachedAt,omitzero"`
	BreachReason string    `json:"breachReason,omitempty"`
	BreachSensor string    `json:"breachSensor,omitempty"`
}

// IsZero lets the record leave out a verdict with no sensor and no breach.
func (v ColdChainVerdict) IsZero() bool { return len(v.Sensors) == 0 && v.BreachedAt.IsZero() }

func (v ColdChainVerdict) has(sensor string) bool {
	_, ok := slices.BinarySearch(v.Sensors, sensor)
	return ok
}

// ColdChainSummary is the shipment's cold chain as readers see it, put
// together from the verdict and every sensor's summary (Summarize); it is
// not stored in the shipment record.
type ColdChainSummary struct {
	State     ColdChainState `json:"state"`
	Count     int64          `json:"count"`
	LateCount int64          `json:"lateCount,omitempty"`
	MinC      *float64       `json:"minC,omitempty"`
	MaxC      *float64       `json:"maxC,omitempty"`
	MeanC     *float64       `json:"meanC,omitempty"`
	// OutOfRangeMinutes is the longest time any one sensor spent out of range.
	OutOfRangeMinutes float64         `json:"outOfRangeMinutes,omitempty"`
	LastReading       *Reading        `json:"lastReading,omitempty"`
	ExcursionStart    time.Time       `json:"excursionStart,omitzero"`
	BreachedAt        time.Time       `json:"breachedAt,omitzero"`
	BreachReason      string          `json:"breachReason,omitempty"`
	Sensors           []SensorSummary `json:"sensors,omitempty"`
}

// IsZero lets the stored shipment record leave the summary out.
func (c ColdChainSummary) IsZero() bool { return c.State == "" && c.Count == 0 }

// Summarize puts the shipment's cold chain together from its verdict and
// the summaries of its sensors (in any order).
func Summarize(v ColdChainVerdict, sensors []SensorSummary) ColdChainSummary {
	cc := ColdChainSummary{State: ColdChainOK, BreachedAt: v.BreachedAt, BreachReason: v.BreachReason}
	sorted := slices.Clone(sensors)
	slices.SortFunc(sorted, func(a, b SensorSummary) int { return cmp.Compare(a.ID, b.ID) })
	var sum int64
	for _, st := range sorted {
		if st.Count == 0 {
			continue
		}
		cc.Sensors = append(cc.Sensors, st)
		cc.Count += st.Count
		cc.LateCount += st.LateCount
		sum += st.SumMilliC
		if cc.MinC == nil || st.MinC < *cc.MinC {
			cc.MinC = ptr(st.MinC)
		}
		if cc.MaxC == nil || st.MaxC > *cc.MaxC {
			cc.MaxC = ptr(st.MaxC)
		}
		if cc.LastReading == nil || CompareReadings(st.Last, *cc.LastReading) > 0 {
			cc.LastReading = ptr(st.Last)
		}
		if !st.ExcursionSince.IsZero() && (cc.ExcursionStart.IsZero() || st.ExcursionSince.Before(cc.ExcursionStart)) {
			cc.ExcursionStart = st.ExcursionSince
		}
		cc.OutOfRangeMinutes = max(cc.OutOfRangeMinutes, st.OutOfRange().Minutes())
	}
	if cc.Count > 0 {
		cc.MeanC = ptr(math.Round(float64(sum)/float64(cc.Count)) / 1000)
	}
	switch {
	case !cc.BreachedAt.IsZero():
		cc.State = ColdChainBreached
	case !cc.ExcursionStart.IsZero():
		cc.State = ColdChainExcursion
	}
	return cc
}

// FutureTolerance is how far after the transaction time a reading may be
// stamped: logger clocks drift.
const FutureTolerance = 5 * time.Minute

// RecordResult tells the contract what a batch did.
type RecordResult struct {
	Accepted int  // readings in the batch
	Late     int  // readings at or before their sensor's latest reading
	Breached bool // this batch found the shipment's first breach
}

// ColdChainStore is a shipment's stored cold chain beside its record, as
// RecordReadings reads it: a sensor's summary, and the stored readings of
// one sensor in a time window (for late readings only).
type ColdChainStore interface {
	// Sensor returns the stored summary of a sensor (false: none stored).
	Sensor(id string) (SensorSummary, bool, error)
	// Series returns the sensor's stored readings with from <= time <= to,
	// in CompareReadings order.
	Series(sensorID string, from, to time.Time) ([]Reading, error)
}

// ReadingsChange is what a batch changes, and all it changes: the summaries
// of the batch's own sensors and, when the batch brings a new sensor or the
// first breach, the record's verdict (then RecordChanged, and the record
// is stamped).
type ReadingsChange struct {
	Result        RecordResult
	Sensors       []SensorSummary // the batch's sensors after the batch, in ID order
	RecordChanged bool
}

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
// organisation. The cold chain lives beside the record (see
// ColdChainStore): s changes only when the batch registers a sensor or
// finds the first breach (ReadingsChange.RecordChanged), so batches of
// registered sensors never rewrite the shipment. The rule, per sensor:
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
//   - a reading at or before the latest reading of its sensor is late: the
//     window it can affect is evaluated again (see reevaluate), so late data
//     can reveal a breach, never hide one.
//
// Sensors are registered in the verdict by the batch that first brings them;
// a stored summary of a sensor the verdict does not list is ignored.
func (s *Shipment) RecordReadings(c Caller, at time.Time, batch []Reading, store ColdChainStore) (ReadingsChange, error) {
	if err := s.begin(c, OpRecordReadings, at); err != nil {
		return ReadingsChange{}, err
	}
	if err := ValidateReadings(batch, at); err != nil {
		return ReadingsChange{}, err
	}
	if !s.StatusAllows(OpRecordReadings) {
		return ReadingsChange{}, s.conflictf(OpRecordReadings, "status is %s; readings are closed", s.Status)
	}
	if err := s.checkReadingsInCustody(c, batch); err != nil {
		return ReadingsChange{}, err
	}
	v := s.ColdChainVerdict

	sorted := slices.Clone(batch)
	slices.SortFunc(sorted, CompareReadings)
	ch := ReadingsChange{Result: RecordResult{Accepted: len(sorted)}}
	var registered []string
	var breach *breachFound
	var breachSensor string
	for _, g := range groupBySensor(sorted) {
		st := SensorSummary{ID: g.id}
		if v.has(g.id) {
			stored, ok, err := store.Sensor(g.id)
			if err != nil {
				return ReadingsChange{}, err
			}
			if ok && stored.ID == g.id {
				st = stored
			}
		} else {
			registered = append(registered, g.id)
		}
		late, b, err := st.record(s.ColdChainPolicy, g.readings, store)
		if err != nil {
			return ReadingsChange{}, err
		}
		ch.Result.Late += late
		if b != nil && (breach == nil || b.at.Before(breach.at)) {
			breach, breachSensor = b, g.id
		}
		ch.Sensors = append(ch.Sensors, st)
	}
	if len(registered) > 0 {
		if len(v.Sensors)+len(registered) > MaxSensors {
			return ReadingsChange{}, Errorf(Invalid, "readings: a shipment has at most %d sensors", MaxSensors)
		}
		v.Sensors = append(slices.Clone(v.Sensors), registered...)
		slices.Sort(v.Sensors)
		ch.RecordChanged = true
	}
	if breach != nil && v.BreachedAt.IsZero() {
		v.BreachedAt, v.BreachReason, v.BreachSensor = breach.at, breach.reason, breachSensor
		ch.RecordChanged = true
		ch.Result.Breached = true
	}
	if ch.RecordChanged {
		s.ColdChainVerdict = v
		s.stamp(c, at)
	}
	return ch, nil
}

// record adds one sensor's readings (time-sorted) to its summary and
// returns how many were late and the first breach they revealed for a
// sensor not yet breached.
func (st *SensorSummary) record(p ColdChainPolicy, rs []Reading, store ColdChainStore) (int, *breachFound, error) {
	var late, fresh []Reading
	for _, r := range rs {
		if st.Count > 0 && !r.Time.After(st.Last.Time) {
			late = append(late, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	var found *breachFound
	if len(late) > 0 {
		b, err := st.reevaluate(p, late, store)
		if err != nil {
			return 0, nil, err
		}
		found = b
	}
	e := evaluation{since: st.ExcursionSince}
	for _, r := range fresh {
		e.apply(p, r)
	}
	st.ExcursionSince = e.since
	st.OutOfRangeMs += e.outMs
	if found == nil {
		found = e.breach
	}
	for _, r := range rs {
		if st.Count == 0 {
			st.MinC, st.MaxC, st.FirstAt, st.Last = r.Celsius, r.Celsius, r.Time, r
		}
		st.Count++
		st.MinC = min(st.MinC, r.Celsius)
		st.MaxC = max(st.MaxC, r.Celsius)
		st.SumMilliC += int64(math.Round(r.Celsius * 1000))
		if r.Time.Before(st.FirstAt) {
			st.FirstAt = r.Time
		}
		if CompareReadings(r, st.Last) > 0 {
			st.Last = r
		}
	}
	st.LateCount += int64(len(late))
	if found != nil && st.BreachedAt.IsZero() {
		st.BreachedAt, st.BreachReason = found.at, found.reason
		return len(late), found, nil
	}
	return len(late), nil, nil
}

// reevaluate applies late readings (time-sorted, at or before the sensor's
// latest) by evaluating again only the window they can affect. An in-range
// reading ends any excursion, so evaluation after it does not depend on
// anything earlier: the window runs from the sensor's latest in-range
// reading before the first late one (or its first reading) to its first
// in-range reading after the last late one (or its latest reading). The
// window is evaluated twice, as stored and with the late readings, and the
// summary moves by the difference; the state after the window is unchanged
// unless the window reaches the sensor's latest reading. The cost follows
// the window (the excursion or gap the late readings fall into), not the
// number of readings the shipment has.
func (st *SensorSummary) reevaluate(p ColdChainPolicy, late []Reading, store ColdChainStore) (*breachFound, error) {
	first, last := late[0].Time, late[len(late)-1].Time
	from, err := st.boundary(p, store, first, -1)
	if err != nil {
		return nil, err
	}
	to, err := st.boundary(p, store, last, +1)
	if err != nil {
		return nil, err
	}
	stored, err := store.Series(st.ID, from, to)
	if err != nil {
		return nil, fmt.Errorf("readings of sensor %s from %s to %s: %w", st.ID, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	var before, after evaluation
	for _, r := range stored {
		before.apply(p, r)
	}
	merged := append(slices.Clone(stored), late...)
	slices.SortFunc(merged, CompareReadings)
	for _, r := range merged {
		after.apply(p, r)
	}
	st.OutOfRangeMs += after.outMs - before.outMs
	if !to.Before(st.Last.Time) {
		st.ExcursionSince = after.since
	}
	return after.breach, nil
}

// boundary finds the stored in-range reading of the sensor nearest to t
// strictly before it (dir -1) or after it (dir +1), looking in windows that
// start at sixteen times the sensor's mean interval between readings (so
// the first look holds about sixteen readings, however dense the series)
// and grow fourfold; without one it returns the sensor's first (or latest)
// reading's time.
func (st *SensorSummary) boundary(p ColdChainPolicy, store ColdChainStore, t time.Time, dir int) (time.Time, error) {
	end := st.FirstAt
	if dir > 0 {
		end = st.Last.Time
	}
	first := time.Second
	if st.Count > 1 {
		first = max(first, 16*st.Last.Time.Sub(st.FirstAt)/time.Duration(st.Count-1))
	}
	near := t.Add(time.Duration(dir) * time.Millisecond)
	for span := first; ; span *= 4 {
		if dir < 0 && near.Before(end) || dir > 0 && near.After(end) {
			return end, nil
		}
		far := near.Add(time.Duration(dir) * span)
		if dir < 0 && far.Before(end) || dir > 0 && far.After(end) {
			far = end
		}
		lo, hi := far, near
		if dir > 0 {
			lo, hi = near, far
		}
		rs, err := store.Series(st.ID, lo, hi)
		if err != nil {
			return time.Time{}, fmt.Errorf("readings of sensor %s from %s to %s: %w", st.ID, lo.Format(time.RFC3339), hi.Format(time.RFC3339), err)
		}
		for i := range rs {
			r := rs[i]
			if dir < 0 {
				r = rs[len(rs)-1-i]
			}
			if p.inRange(r.Celsius) {
				return r.Time, nil
			}
		}
		if far.Equal(end) {
			return end, nil
		}
		near = far.Add(time.Duration(dir) * time.Millisecond)
	}
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

func (p ColdChainPolicy) inRange(c float64) bool { return c >= p.MinC && c <= p.MaxC }

// evaluation is the state of evaluating one sensor's readings in time order:
// the open excursion, the time spent in excursions closed so far, and the
// first breach.
type evaluation struct {
	since  time.Time
	outMs  int64
	breach *breachFound
}

// apply evaluates one reading that is not earlier than the previous one.
func (e *evaluation) apply(p ColdChainPolicy, r Reading) {
	var b *breachFound
	out := !p.inRange(r.Celsius)
	limit := time.Duration(p.MaxExcursionMinutes) * time.Minute
	switch {
	case p.HardMinC != nil && r.Celsius < *p.HardMinC:
		b = &breachFound{r.Time, fmt.Sprintf("sensor %s read %g °C at %s, below the hard minimum %g °C", r.SensorID, r.Celsius, r.Time.Format(time.RFC3339), *p.HardMinC)}
	case p.HardMaxC != nil && r.Celsius > *p.HardMaxC:
		b = &breachFound{r.Time, fmt.Sprintf("sensor %s read %g °C at %s, above the hard maximum %g °C", r.SensorID, r.Celsius, r.Time.Format(time.RFC3339), *p.HardMaxC)}
	}
	if out && e.since.IsZero() {
		e.since = r.Time
	}
	if !e.since.IsZero() && b == nil {
		if d := r.Time.Sub(e.since); d > limit || (limit == 0 && out) {
			b = &breachFound{r.Time, fmt.Sprintf("sensor %s was outside %g..%g °C from %s for more than %d minutes",
				r.SensorID, p.MinC, p.MaxC, e.since.Format(time.RFC3339), p.MaxExcursionMinutes)}
		}
	}
	if !out && !e.since.IsZero() {
		e.outMs += r.Time.Sub(e.since).Milliseconds()
		e.since = time.Time{}
	}
	if b != nil && e.breach == nil {
		e.breach = b
	}
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
		r.check(&p, fmt.Sprintf("readings[%d].", i), at)
		if len(p) >= 10 {
			p.addf("readings", "further readings not checked")
			break
		}
	}
	return p.err()
}

// ValidateReading checks one reading as ValidateReadings checks each of a
// batch's, for a client that builds batches from another form (a logger's
// CSV file) and reports a refusal by the line it came from.
func ValidateReading(r Reading, at time.Time) error {
	var p problems
	r.check(&p, "", at)
	return p.err()
}

func (r Reading) check(p *problems, prefix string, at time.Time) {
	if !sensorPattern.MatchString(r.SensorID) {
		p.addf(prefix+"sensorId", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
	}
	checkTime(p, prefix+"time", r.Time)
	if r.Time.Nanosecond()%int(time.Millisecond) != 0 {
		p.addf(prefix+"time", "must have at most millisecond precision")
	}
	if !at.IsZero() && r.Time.After(at.Add(FutureTolerance)) {
		p.addf(prefix+"time", "must not be later than the transaction time plus %s", FutureTolerance)
	}
	checkCelsius(p, prefix+"celsius", r.Celsius)
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
