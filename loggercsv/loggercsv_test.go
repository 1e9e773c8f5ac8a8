package loggercsv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/loggercsv"
	"github.com/shiptrace/shiptrace/shipment"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestReadsTheShapesLoggersExport(t *testing.T) {
	for _, c := range []struct {
		file string
		o    loggercsv.Options
		sep  string
		want []shipment.Reading
	}{
		{"iso-offset.csv", loggercsv.Options{Sensor: "L1"}, ",", []shipment.Reading{
			{SensorID: "L1", Time: at("2026-12-01T07:00:00Z"), Celsius: 4.5},
			{SensorID: "L1", Time: at("2026-12-01T07:05:00Z"), Celsius: 4.7},
			{SensorID: "L1", Time: at("2026-12-01T07:10:00.25Z"), Celsius: -0.5},
		}},
		{"de-semicolon-decimal-comma.csv", loggercsv.Options{Sensor: "T3-41207733", Location: zone(t, "Europe/Berlin")}, ";", []shipment.Reading{
			{SensorID: "T3-41207733", Time: at("2026-12-01T07:00:00Z"), Celsius: 4.5},
			{SensorID: "T3-41207733", Time: at("2026-12-01T07:05:00Z"), Celsius: 4.7},
			{SensorID: "T3-41207733", Time: at("2026-12-01T07:10:00Z"), Celsius: 5.1},
		}},
		{"us-fahrenheit-mdy.csv", loggercsv.Options{Location: zone(t, "America/Chicago"), DateOrder: loggercsv.MonthFirst}, ",", []shipment.Reading{
			{SensorID: "LOG-7", Time: at("2026-12-01T14:00:00Z"), Celsius: 4},
			{SensorID: "LOG-7", Time: at("2026-12-01T14:05:00Z"), Celsius: 4.5},
			{SensorID: "LOG-7", Time: at("2026-12-01T19:05:00Z"), Celsius: 5},
		}},
		{"tab-unit-column.csv", loggercsv.Options{}, "tab", []shipment.Reading{
			{SensorID: "hold-1", Time: at("2026-12-01T08:00:00Z"), Celsius: 4},
			{SensorID: "hold-2", Time: at("2026-12-01T08:00:00Z"), Celsius: 4.389},
			{SensorID: "hold-1", Time: at("2026-12-01T08:01:00Z"), Celsius: 4.1},
		}},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := loggercsv.Read(open(t, c.file), c.o)
			if err != nil {
				t.Fatal(err)
			}
			if f.Separator != c.sep || f.Rows != len(c.want) || len(f.Readings) != len(c.want) {
				t.Fatalf("separator %q, %d rows, %d readings; want %q, %d", f.Separator, f.Rows, len(f.Readings), c.sep, len(c.want))
			}
			for i, r := range f.Readings {
				if r.SensorID != c.want[i].SensorID || !r.Time.Equal(c.want[i].Time) || r.Celsius != c.want[i].Celsius {
					t.Errorf("reading %d: %+v, want %+v", i, r, c.want[i])
				}
			}
		})
	}
}

// lines returns a refusal's problems as "line: message".
func lines(t *testing.T, err error) []loggercsv.LineError {
	t.Helper()
	var e *loggercsv.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want a *loggercsv.Error", err)
	}
	return e.Lines
}

func TestAMalformedFileIsRefusedWholeWithEachLine(t *testing.T) {
	f, err := loggercsv.Read(open(t, "malformed.csv"), loggercsv.Options{Sensor: "L1", Location: time.UTC})
	if f != nil {
		t.Fatalf("a refused file returned %d readings", len(f.Readings))
	}
	got := lines(t, err)
	want := []struct {
		line int
		has  string
	}{
		{3, `"abc": not a number`},
		{4, "1 columns, the header has 2"},
		{5, "is on line 2 already"},
		{6, "mixes times with a UTC offset (line 2) and without one (line 6)"},
		{7, "says °F, the header or unit column °C"},
		{8, "thousands separator"},
		{9, "celsius: must be between -100 and 100"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Line != w.line || !strings.Contains(got[i].Message, w.has) {
			t.Errorf("problem %d: %s, want line %d with %q", i, got[i], w.line, w.has)
		}
	}
}

func TestLocalTimesTheClocksSkipOrRepeatAreRefused(t *testing.T) {
	_, err := loggercsv.Read(open(t, "es-dst-local.csv"), loggercsv.Options{Sensor: "L1", Location: zone(t, "Europe/Madrid"), Unit: loggercsv.Celsius})
	got := lines(t, err)
	if len(got) != 2 || got[0].Line != 3 || !strings.Contains(got[0].Message, "occurs twice") ||
		got[1].Line != 4 || !strings.Contains(got[1].Message, "does not exist") {
		t.Fatalf("problems %v, want line 3 (02:30 on 25 October occurs twice) and line 4 (02:30 on 29 March does not exist)", got)
	}
	// Line 2, 01:30 before the change back, is one instant: in summer time.
	f, err := loggercsv.Read(strings.NewReader("Fecha y hora;Temperatura\n2026-10-25 01:30:00;4,0\n"),
		loggercsv.Options{Sensor: "L1", Location: zone(t, "Europe/Madrid"), Unit: loggercsv.Celsius})
	if err != nil || !f.Readings[0].Time.Equal(at("2026-10-24T23:30:00Z")) {
		t.Fatalf("%v %v", f, err)
	}
}

func TestWhatTheFileDoesNotSayMustBeGiven(t *testing.T) {
	for _, c := range []struct {
		name, file string
		o          loggercsv.Options
		has        string
	}{
		{"no zone for local times", "de-semicolon-decimal-comma.csv", loggercsv.Options{Sensor: "L1"}, "pass tz"},
		{"no sensor", "iso-offset.csv", loggercsv.Options{}, "name the sensor with the sensor parameter"},
		{"a sensor twice", "tab-unit-column.csv", loggercsv.Options{Sensor: "L1"}, "leave out the sensor parameter"},
		{"slashed dates", "us-fahrenheit-mdy.csv", loggercsv.Options{Location: time.UTC}, "pass dates=dmy or dates=mdy"},
		{"no unit", "es-dst-local.csv", loggercsv.Options{Sensor: "L1", Location: time.UTC}, "pass unit=C or unit=F"},
		{"unit against the header", "iso-offset.csv", loggercsv.Options{Sensor: "L1", Unit: loggercsv.Fahrenheit}, "the header says °C"},
		{"no header", "", loggercsv.Options{Sensor: "L1"}, "no header row"},
		{"two temperature columns", "", loggercsv.Options{Sensor: "L1"}, "more than one temperature column"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			switch {
			case c.file != "":
				_, err = loggercsv.Read(open(t, c.file), c.o)
			case c.name == "no header":
				_, err = loggercsv.Read(strings.NewReader("a,b\n1,2\n"), c.o)
			default:
				_, err = loggercsv.Read(strings.NewReader("time,Probe 1 °C,Probe 2 °C\n2026-12-01T08:00:00Z,4,5\n"), c.o)
			}
			if err == nil || !strings.Contains(err.Error(), c.has) {
				t.Fatalf("error %v, want %q", err, c.has)
			}
		})
	}
}

func TestLaterThanNowIsRefusedAsTheContractWould(t *testing.T) {
	_, err := loggercsv.Read(open(t, "iso-offset.csv"), loggercsv.Options{Sensor: "L1", Now: at("2026-12-01T06:59:00Z")})
	got := lines(t, err)
	if len(got) != 2 || got[0].Line != 3 || !strings.Contains(got[0].Message, "must not be later than the transaction time") {
		t.Fatalf("%v", got)
	}
}

func TestRowsAreBoundedAndProblemsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("time,temp C\n")
	for i := range 500 {
		fmt.Fprintf(&b, "2026-12-01T08:%02d:%02dZ,x\n", i/60, i%60)
	}
	_, err := loggercsv.Read(strings.NewReader(b.String()), loggercsv.Options{Sensor: "L1"})
	var e *loggercsv.Error
	if !errors.As(err, &e) || len(e.Lines) != loggercsv.MaxLineErrors || e.More != 500-loggercsv.MaxLineErrors {
		t.Fatalf("%d problems listed, %d more; want %d and %d", len(e.Lines), e.More, loggercsv.MaxLineErrors, 500-loggercsv.MaxLineErrors)
	}
	_, err = loggercsv.Read(strings.NewReader("time,temp C\n2026-12-01T08:00:00Z,1\n2026-12-01T08:00:01Z,1\n2026-12-01T08:00:02Z,1\n"),
		loggercsv.Options{Sensor: "L1", MaxRows: 2})
	if got := lines(t, err); len(got) != 1 || got[0].Line != 4 || !strings.Contains(got[0].Message, "more than 2 rows") {
		t.Fatalf("%v", got)
	}
}

func TestBatchesAreTheSameForTheSameFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("sensor;time;temp °C\n")
	for i := range 2500 {
		// Two loggers interleaved, each out of time order.
		j := i * 7919 % 2500
		fmt.Fprintf(&b, "L%d;2026-12-01T%02d:%02d:%02dZ;4,%d\n", j%2, j/3600, j/60%60, j%60, i%10)
	}
	read := func() [][]shipment.Reading {
		f, err := loggercsv.Read(strings.NewReader(b.String()), loggercsv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return loggercsv.Batches(f.Readings, 500)
	}
	first, again := read(), read()
	if len(first) != 6 || fmt.Sprint(first) != fmt.Sprint(again) {
		t.Fatalf("%d batches (want 6: 1,250 per sensor in batches of 500), same on a second read: %v", len(first), fmt.Sprint(first) == fmt.Sprint(again))
	}
	for i, batch := range first {
		for j := 1; j < len(batch); j++ {
			if batch[j].SensorID != batch[0].SensorID || batch[j].Time.Before(batch[j-1].Time) {
				t.Fatalf("batch %d is not one sensor in time order at %d", i, j)
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"iso-offset.csv", "de-semicolon-decimal-comma.csv", "us-fahrenheit-mdy.csv", "tab-unit-column.csv", "malformed.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := loggercsv.Read(strings.NewReader(string(b)), loggercsv.Options{Sensor: "L1", Location: time.UTC, DateOrder: loggercsv.DayFirst})
		if err != nil {
			if file != nil {
				t.Fatal("a refused file returned readings")
			}
			return
		}
		for _, r := range file.Readings {
			if err := shipment.ValidateReading(r, time.Time{}); err != nil {
				t.Fatalf("a reading the contract refuses was returned: %v", err)
			}
		}
	})
}

func TestUnknownUnitsAreRefusedByLine(t *testing.T) {
	_, err := loggercsv.Read(strings.NewReader("logger,time,temperature,unit\n"+
		"L1,2026-11-01T08:00:00Z,4.5,°C\nL1,2026-11-01T08:01:00Z,277.6,K\nL1,2026-11-01T08:02:00Z,4.5 K,°C\n"), loggercsv.Options{})
	got := lines(t, err)
	if len(got) != 2 || got[0].Line != 3 || !strings.Contains(got[0].Message, `unit "K": must be °C or °F`) ||
		got[1].Line != 4 || !strings.Contains(got[1].Message, "not a number") {
		t.Fatalf("%v", got)
	}
}
