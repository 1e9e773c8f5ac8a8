package loggercsv

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// sample identifies a reading: one sensor cannot read twice at one time.
type sample struct {
	sensor string
	ms     int64
}

// rowReader reads data rows against the header and what came before.
type rowReader struct {
	o       Options
	h       header
	seen    map[sample]int // the line each reading came from
	sensors map[string]bool
	offsets int // rows with a UTC offset (+1) or without (-1) so far: files must not mix
	first   int // the line that set offsets
}

func (rd *rowReader) read(line int, rec []string, p *Error) (shipment.Reading, bool) {
	if len(rec) < rd.h.width {
		p.add(line, "%d columns, the header has %d", len(rec), rd.h.width)
		return shipment.Reading{}, false
	}
	var r shipment.Reading
	ok := true
	if rd.h.sensor >= 0 {
		r.SensorID = strings.TrimSpace(rec[rd.h.sensor])
	} else {
		r.SensorID = rd.o.Sensor
	}
	raw := strings.TrimSpace(rec[rd.h.time])
	if rd.h.date >= 0 {
		raw = strings.TrimSpace(rec[rd.h.date]) + " " + raw
	}
	t, hasOffset, err := rd.parseTime(raw)
	if err != nil {
		p.add(line, "%s %q: %v", rd.h.names.Time, raw, err)
		ok = false
	} else if done := rd.checkOffsets(line, hasOffset, p); !done {
		ok = false
	}
	unit := rd.h.unit
	if rd.h.unitCol >= 0 {
		unit = unitOf(" " + strings.TrimSpace(rec[rd.h.unitCol]))
		if u := strings.TrimSpace(rec[rd.h.unitCol]); unit == "" && (strings.EqualFold(u, "C") || strings.EqualFold(u, "F")) {
			unit = Unit(strings.ToUpper(u))
		}
		if unit == "" {
			p.add(line, "unit %q: must be °C or °F", rec[rd.h.unitCol])
			ok = false
		}
	}
	c, err := rd.parseTemperature(rec[rd.h.temp], &unit)
	switch {
	case err != nil:
		p.add(line, "%s %q: %v", rd.h.names.Temperature, strings.TrimSpace(rec[rd.h.temp]), err)
		ok = false
	case unit == "" && rd.h.unitCol < 0: // a bad unit column said so already
		p.add(line, "no unit: the header names none (Temp °C, Temp °F); pass unit=C or unit=F")
		ok = false
	}
	if !ok {
		return r, false
	}
	r.Time, r.Celsius = t, c
	if err := shipment.ValidateReading(r, rd.o.Now); err != nil {
		p.add(line, "%s", message(err))
		return r, false
	}
	k := sample{r.SensorID, r.Time.UnixMilli()}
	if prev, dup := rd.seen[k]; dup {
		p.add(line, "sensor %s at %s is on line %d already", r.SensorID, r.Time.Format(time.RFC3339Nano), prev)
		return r, false
	}
	rd.seen[k] = line
	return r, true
}

// checkOffsets refuses a file that mixes times with and without a UTC
// offset: one of them was exported differently, and which one is right
// cannot be told.
func (rd *rowReader) checkOffsets(line int, hasOffset bool, p *Error) bool {
	v := -1
	if hasOffset {
		v = 1
	}
	switch {
	case rd.offsets == 0:
		rd.offsets, rd.first = v, line
	case rd.offsets != v:
		with, without := line, rd.first
		if v < 0 {
			with, without = rd.first, line
		}
		p.add(line, "the file mixes times with a UTC offset (line %d) and without one (line %d)", with, without)
		return false
	}
	if !hasOffset && rd.o.Location == nil {
		p.add(line, "the time has no UTC offset: pass tz (an IANA zone such as Europe/Berlin) or export times with offsets")
		return false
	}
	return true
}

// Layouts of times with an offset, then without. Go accepts fractional
// seconds after the seconds when parsing even where a layout has none.
var (
	withOffset = []string{
		time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04Z07:00", "2006-01-02 15:04Z07:00",
		"2006-01-02 15:04:05 Z07:00", "2006-01-02 15:04:05 -0700", "2006-01-02T15:04:05-0700",
	}
	local = []string{
		"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04",
		"2006/01/02 15:04:05", "2006/01/02 15:04",
		"2.1.2006 15:04:05", "2.1.2006 15:04",
	}
	dayFirst   = []string{"2/1/2006 15:04:05", "2/1/2006 15:04", "2/1/2006 3:04:05 PM", "2/1/2006 3:04 PM"}
	monthFirst = []string{"1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM"}
)

// parseTime reads a time; a time without an offset is in the Location,
// refused when that zone's clocks skip it or pass it twice.
func (rd *rowReader) parseTime(s string) (time.Time, bool, error) {
	if s == "" {
		return time.Time{}, false, fmt.Errorf("empty")
	}
	for _, l := range withOffset {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true, nil
		}
	}
	layouts := local
	if strings.Count(s, "/") == 2 && !strings.HasPrefix(s[:min(5, len(s))], "20") {
		switch rd.o.DateOrder {
		case DayFirst:
			layouts = dayFirst
		case MonthFirst:
			layouts = monthFirst
		default:
			return time.Time{}, false, fmt.Errorf("a date with slashes is ambiguous (01/02 is 1 February or 2 January): pass dates=dmy or dates=mdy")
		}
	}
	for _, l := range layouts {
		wall, err := time.Parse(l, s)
		if err != nil {
			continue
		}
		if rd.o.Location == nil {
			return wall, false, nil // refused by checkOffsets, which says why once per line
		}
		t, err := inZone(wall, rd.o.Location)
		return t, false, err
	}
	return time.Time{}, false, fmt.Errorf("not a time this reader knows (2026-12-01T10:00:00+01:00, 2026-12-01 10:00:00, 01.12.2026 10:00, 01/12/2026 10:00 with dates=dmy)")
}

// inZone places a wall-clock time (parsed as UTC) in loc. A time in the hour
// that the clocks skip does not exist; one in the hour they pass twice
// could be either: both are refused, not guessed.
func inZone(wall time.Time, loc *time.Location) (time.Time, error) {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
	if !sameWall(t.In(loc), wall) {
		return time.Time{}, fmt.Errorf("does not exist in %s (the clocks went forward)", loc)
	}
	for _, probe := range []time.Duration{-3 * time.Hour, 3 * time.Hour} {
		_, off := t.Add(probe).In(loc).Zone()
		alt := wall.Add(-time.Duration(off) * time.Second)
		if !alt.Equal(t) && sameWall(alt.In(loc), wall) {
			return time.Time{}, fmt.Errorf("occurs twice in %s (the clocks went back): export times with UTC offsets", loc)
		}
	}
	return t.UTC(), nil
}

func sameWall(t, wall time.Time) bool {
	y, m, d := t.Date()
	wy, wm, wd := wall.Date()
	return y == wy && m == wm && d == wd && t.Hour() == wall.Hour() && t.Minute() == wall.Minute() &&
		t.Second() == wall.Second() && t.Nanosecond() == wall.Nanosecond()
}

// parseTemperature reads a number with a decimal point or comma, and a
// unit written after it ("4,5 °C"), which must agree with the header's.
// Fahrenheit is converted and kept to the thousandth of a degree.
func (rd *rowReader) parseTemperature(s string, unit *Unit) (float64, error) {
	v := strings.TrimSpace(s)
	if u := unitOf(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '.' || r == ',' || r == '-' || r == '+' {
			return ' '
		}
		return r
	}, " "+v)); u != "" {
		if *unit != "" && *unit != u {
			return 0, fmt.Errorf("says °%s, the header or unit column °%s", u, *unit)
		}
		*unit = u
		v = strings.TrimSpace(strings.TrimRight(v, "°ºCcFf "))
	}
	if v == "" {
		return 0, fmt.Errorf("empty")
	}
	if strings.Contains(v, ",") {
		if strings.Contains(v, ".") || strings.Count(v, ",") > 1 {
			return 0, fmt.Errorf("not a number (a temperature has no thousands separator)")
		}
		v = strings.Replace(v, ",", ".", 1)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(v, "xXpPeEiInN_") {
		return 0, fmt.Errorf("not a number")
	}
	if *unit == Fahrenheit {
		f = math.Round((f-32)*5/9*1000) / 1000
	}
	return f, nil
}
