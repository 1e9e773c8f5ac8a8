package web

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// The chart is drawn on the server as inline SVG (README: why). Its
// coordinates are in a 400 x 240 viewBox that the browser scales to the
// screen's width; a phone shows it near 1:1.
const (
	chartW, chartH               = 400.0, 240.0
	padL, padR, padT, padB       = 36.0, 8.0, 10.0, 30.0
	maxChartPoints               = 1200 // all sensors together: 2 per bucket
	minBuckets, maxBuckets       = 30, 150
	tableBuckets                 = 24 // rows per sensor in the table
	excursionColor, breachColour = "#b00020", "#b00020"
)

// palette holds sensor colours with at least 3:1 contrast on white (WCAG
// 1.4.11, graphics); red is kept for excursions.
var palette = []string{"#1f5fa8", "#5b2a86", "#00695c", "#7a4a00", "#333333", "#a8326e"}

// Chart is the cold chain as the template draws it.
type Chart struct {
	Empty  bool
	Capped int // readings drawn when there were more; 0 if all are
	Policy shipment.ColdChainPolicy
	Sum    shipment.ColdChainSummary
	// Band is the allowed range as a rectangle.
	BandY, BandH float64
	Series       []Series
	YTicks       []Tick
	XTicks       []Tick
	Breach       *Tick // the breach's vertical line (Pos is x)
	Rows         []Row
	Left, Right  float64 // plot area, for the axes
	Top, Bottom  float64
}

// Series is one sensor's line, with its out-of-range spans marked below the
// plot.
type Series struct {
	Sensor string
	Color  string
	Points string // SVG polyline points
	Out    []Span // x ranges with readings out of range
}

// Span is an x range of the plot.
type Span struct{ X, W float64 }

// Tick is an axis label at a position.
type Tick struct {
	Pos   float64
	Label string
	Value float64
	Time  time.Time
	// Anchor keeps the first and last time labels inside the chart.
	Anchor string
}

// Row is one line of the screen-reader table: a sensor's readings in one
// time slot.
type Row struct {
	Sensor      string
	From, To    time.Time
	Count       int
	MinC, MaxC  float64
	OutOfRange  bool
	BreachInRow bool
}

// bucket is one time slot of one sensor: its extremes and their times.
type bucket struct {
	n          int
	lo, hi     shipment.Reading
	outOfRange bool
}

// downsample splits [t0, t1] into n slots and keeps, per sensor and slot,
// the lowest and the highest reading: min/max decimation keeps every peak,
// so an excursion shorter than a slot still shows, unlike averaging.
func downsample(readings []shipment.Reading, t0, t1 time.Time, n int, p shipment.ColdChainPolicy) map[string][]bucket {
	span := t1.Sub(t0)
	out := map[string][]bucket{}
	for _, r := range readings {
		bs, ok := out[r.SensorID]
		if !ok {
			bs = make([]bucket, n)
			out[r.SensorID] = bs
		}
		i := int(float64(n) * float64(r.Time.Sub(t0)) / float64(span))
		i = min(max(i, 0), n-1)
		b := &bs[i]
		if b.n == 0 || r.Celsius < b.lo.Celsius {
			b.lo = r
		}
		if b.n == 0 || r.Celsius > b.hi.Celsius {
			b.hi = r
		}
		b.n++
		b.outOfRange = b.outOfRange || r.Celsius < p.MinC || r.Celsius > p.MaxC
	}
	return out
}

// newChart lays out the chart and the table for a shipment's readings.
func newChart(s shipment.Shipment, readings []shipment.Reading, capped bool) Chart {
	c := Chart{Policy: s.ColdChainPolicy, Sum: s.ColdChain, Left: padL, Right: chartW - padR, Top: padT, Bottom: chartH - padB}
	if len(readings) == 0 {
		c.Empty = true
		return c
	}
	if capped {
		c.Capped = len(readings)
	}
	t0, t1 := readings[0].Time, readings[0].Time
	lo, hi := s.ColdChainPolicy.MinC, s.ColdChainPolicy.MaxC
	for _, r := range readings {
		if r.Time.Before(t0) {
			t0 = r.Time
		}
		if r.Time.After(t1) {
			t1 = r.Time
		}
		lo, hi = math.Min(lo, r.Celsius), math.Max(hi, r.Celsius)
	}
	if !t1.After(t0) {
		t1 = t0.Add(time.Minute)
	}
	step := niceStep(hi - lo)
	lo, hi = math.Floor(lo/step)*step-step, math.Ceil(hi/step)*step+step
	x := func(t time.Time) float64 {
		return padL + (chartW-padL-padR)*float64(t.Sub(t0))/float64(t1.Sub(t0))
	}
	y := func(v float64) float64 { return padT + (chartH-padT-padB)*(hi-v)/(hi-lo) }
	c.BandY = y(s.ColdChainPolicy.MaxC)
	c.BandH = y(s.ColdChainPolicy.MinC) - c.BandY
	for v := lo; v <= hi+step/2; v += step {
		c.YTicks = append(c.YTicks, Tick{Pos: y(v), Value: v})
	}
	for i := range 3 {
		t := t0.Add(time.Duration(float64(t1.Sub(t0)) * float64(i) / 2))
		c.XTicks = append(c.XTicks, Tick{Pos: x(t), Time: t, Label: t.UTC().Format("01-02 15:04"), Anchor: []string{"start", "middle", "end"}[i]})
	}
	if b := s.ColdChain.BreachedAt; !b.IsZero() {
		c.Breach = &Tick{Pos: x(clampTime(b, t0, t1)), Time: b}
	}

	sensors := sensorsOf(readings)
	n := min(max(maxChartPoints/2/len(sensors), minBuckets), maxBuckets)
	byID := downsample(readings, t0, t1, n, s.ColdChainPolicy)
	for i, id := range sensors {
		se := Series{Sensor: id, Color: palette[i%len(palette)]}
		var pts strings.Builder
		point := func(r shipment.Reading) {
			pts.WriteString(strconv.FormatFloat(x(r.Time), 'f', 1, 64))
			pts.WriteByte(',')
			pts.WriteString(strconv.FormatFloat(y(r.Celsius), 'f', 1, 64))
			pts.WriteByte(' ')
		}
		for _, b := range byID[id] {
			if b.n == 0 {
				continue
			}
			first, second := b.lo, b.hi
			if second.Time.Before(first.Time) {
				first, second = second, first
			}
			point(first)
			if b.n > 1 {
				point(second)
			}
		}
		se.Points = strings.TrimSpace(pts.String())
		se.Out = excursions(readings, id, s.ColdChainPolicy, x)
		c.Series = append(c.Series, se)
	}
	c.Rows = tableRows(readings, sensors, t0, t1, s)
	return c
}

// excursions are a sensor's times out of range as the contract counts them:
// from its first reading out of range to its next reading in range (or its
// last reading), drawn at least a pixel wide and merged where they touch.
func excursions(readings []shipment.Reading, sensor string, p shipment.ColdChainPolicy, x func(time.Time) float64) []Span {
	var own []shipment.Reading
	for _, r := range readings {
		if r.SensorID == sensor {
			own = append(own, r)
		}
	}
	slices.SortStableFunc(own, func(a, b shipment.Reading) int { return a.Time.Compare(b.Time) })
	var out []Span
	add := func(from, to time.Time) {
		x0, x1 := x(from), math.Max(x(to), x(from)+1)
		if k := len(out) - 1; k >= 0 && x0 <= out[k].X+out[k].W+0.5 {
			out[k].W = math.Max(out[k].W, x1-out[k].X)
			return
		}
		out = append(out, Span{X: x0, W: x1 - x0})
	}
	var start time.Time
	for _, r := range own {
		outside := r.Celsius < p.MinC || r.Celsius > p.MaxC
		switch {
		case outside && start.IsZero():
			start = r.Time
		case !outside && !start.IsZero():
			add(start, r.Time)
			start = time.Time{}
		}
	}
	if !start.IsZero() {
		add(start, own[len(own)-1].Time)
	}
	return out
}

// tableRows is the same data as the chart, coarser: tableBuckets slots
// per sensor, each with its extremes and whether it left the band.
func tableRows(readings []shipment.Reading, sensors []string, t0, t1 time.Time, s shipment.Shipment) []Row {
	byID := downsample(readings, t0, t1, tableBuckets, s.ColdChainPolicy)
	slot := t1.Sub(t0) / tableBuckets
	var rows []Row
	for _, id := range sensors {
		for j, b := range byID[id] {
			if b.n == 0 {
				continue
			}
			from := t0.Add(time.Duration(j) * slot)
			to := from.Add(slot)
			br := s.ColdChain.BreachedAt
			rows = append(rows, Row{Sensor: id, From: from, To: to, Count: b.n, MinC: b.lo.Celsius, MaxC: b.hi.Celsius,
				OutOfRange: b.outOfRange, BreachInRow: !br.IsZero() && !br.Before(from) && (br.Before(to) || j == tableBuckets-1)})
		}
	}
	return rows
}

func sensorsOf(readings []shipment.Reading) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range readings {
		if !seen[r.SensorID] {
			seen[r.SensorID] = true
			out = append(out, r.SensorID)
		}
	}
	slices.Sort(out)
	return out
}

// niceStep is a tick step of 1, 2 or 5 times a power of ten that splits a
// range into at most six parts.
func niceStep(span float64) float64 {
	if span <= 0 {
		span = 1
	}
	for _, base := range []float64{0.1, 1, 10, 100} {
		for _, m := range []float64{1, 2, 5} {
			if span/(base*m) <= 6 {
				return base * m
			}
		}
	}
	return 1000
}

func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}
