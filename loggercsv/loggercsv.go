// Package loggercsv reads the CSV files that temperature data loggers
// export into the contract's readings. Loggers do not agree on a layout:
// some write a preamble of device details before the header, Europeans get
// semicolons and decimal commas, the unit sits in the header ("Temp (°F)")
// or in a column of its own, times come with a UTC offset, in local time or
// split into a date and a time column. The reader finds the columns by
// their header names and reads the file as a stream, one record at a time;
// it refuses the whole file, each problem with its line number, rather than
// guess (a US or European date, an hour that occurs twice at the end of
// summer time, a reading given twice).
//
// Written here because no maintained Go library reads logger exports:
// encoding/csv does the quoting and this package the rest.
package loggercsv

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// Options are what the file itself may not say.
type Options struct {
	// Sensor is the sensor ID for a file without a sensor column; a file
	// with one must leave it empty.
	Sensor string
	// Location is the time zone of times written without a UTC offset;
	// nil refuses such times.
	Location *time.Location
	// Unit is the unit of a file whose header and values name none.
	Unit Unit
	// DateOrder reads dates written with slashes: DayFirst (31/12/2026) or
	// MonthFirst (12/31/2026). Empty refuses them: 01/02 is ambiguous.
	DateOrder DateOrder
	// MaxRows bounds the data rows (default DefaultMaxRows).
	MaxRows int
	// Now, when set, refuses readings later than Now plus the contract's
	// tolerance, as the contract would.
	Now time.Time
}

// Unit is a temperature unit.
type Unit string

// The units a file may use.
const (
	Celsius    Unit = "C"
	Fahrenheit Unit = "F"
)

// DateOrder says how to read a date written with slashes.
type DateOrder string

// The date orders.
const (
	DayFirst   DateOrder = "dmy"
	MonthFirst DateOrder = "mdy"
)

// Limits.
const (
	DefaultMaxRows = 200_000
	// MaxPreambleLines is how far down the header may be.
	MaxPreambleLines = 30
	// MaxLineErrors is how many problems a refusal lists.
	MaxLineErrors = 100
)

// File is a file read without a problem.
type File struct {
	Readings  []shipment.Reading // in the file's order, in °C, UTC
	Sensors   []string           // in order of first appearance
	Rows      int                // data rows read
	Separator string             // ",", ";" or "tab"
	Unit      Unit               // the unit the file was read in
	Columns   Columns            // the header names used
}

// Columns names the header cells the reader used.
type Columns struct {
	Time        string `json:"time"`
	Date        string `json:"date,omitempty"` // set when the date has a column of its own
	Temperature string `json:"temperature"`
	Sensor      string `json:"sensor,omitempty"`
	Unit        string `json:"unit,omitempty"`
}

// LineError is a problem with one line of the file (line 0: the request).
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e LineError) String() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// Error refuses a file: its problems by line, the first MaxLineErrors of
// them, and how many more there were.
type Error struct {
	Lines []LineError
	More  int
}

func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Lines)+1)
	for _, l := range e.Lines {
		parts = append(parts, l.String())
	}
	if e.More > 0 {
		parts = append(parts, fmt.Sprintf("%d more problems", e.More))
	}
	return "the CSV file was refused: " + strings.Join(parts, "; ")
}

func (e *Error) add(line int, format string, args ...any) {
	if len(e.Lines) >= MaxLineErrors {
		e.More++
		return
	}
	e.Lines = append(e.Lines, LineError{Line: line, Message: fmt.Sprintf(format, args...)})
}

func (e *Error) err() error {
	if len(e.Lines) == 0 {
		return nil
	}
	return e
}

// Read reads a logger's CSV file. Nothing of a file with any problem is
// returned: the caller records all of a file or none of it.
func Read(r io.Reader, o Options) (*File, error) {
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.Unit != "" && o.Unit != Celsius && o.Unit != Fahrenheit {
		return nil, &Error{Lines: []LineError{{Message: fmt.Sprintf("unit %q: must be C or F", o.Unit)}}}
	}
	if o.DateOrder != "" && o.DateOrder != DayFirst && o.DateOrder != MonthFirst {
		return nil, &Error{Lines: []LineError{{Message: fmt.Sprintf("date order %q: must be dmy or mdy", o.DateOrder)}}}
	}
	br := bufio.NewReader(r)
	h, err := findHeader(br)
	if err != nil {
		return nil, err
	}
	var problems Error
	if h.sensor >= 0 && o.Sensor != "" {
		problems.add(h.line, "the file has a sensor column (%q); leave out the sensor parameter", h.names.Sensor)
	}
	if h.sensor < 0 {
		if o.Sensor == "" {
			problems.add(h.line, "the file has no sensor column (sensor, logger, serial, device): name the sensor with the sensor parameter")
		} else if err := shipment.ValidateSensorIDs([]string{o.Sensor}); err != nil {
			problems.add(0, "sensor parameter: %s", message(err))
		}
	}
	if h.unit == "" && h.unitCol < 0 {
		h.unit = o.Unit
	} else if o.Unit != "" && h.unit != "" && o.Unit != h.unit {
		problems.add(h.line, "the header says °%s, the unit parameter %s", h.unit, o.Unit)
	}
	if err := problems.err(); err != nil {
		return nil, err
	}

	cr := csv.NewReader(br)
	cr.Comma = h.comma
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	f := &File{Separator: separatorName(h.comma), Unit: h.unit, Columns: h.names}
	rd := rowReader{o: o, h: h, seen: map[sample]int{}, sensors: map[string]bool{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line := h.line
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problems.add(h.line+pe.StartLine, "%s", pe.Err)
				if len(problems.Lines) >= MaxLineErrors {
					break
				}
				continue
			}
			return nil, fmt.Errorf("read the CSV file: %w", err)
		}
		at, _ := cr.FieldPos(0)
		line += at
		if blank(rec) {
			continue
		}
		f.Rows++
		if f.Rows > o.MaxRows {
			problems.add(line, "more than %d rows: split the file", o.MaxRows)
			break
		}
		reading, ok := rd.read(line, rec, &problems)
		if !ok {
			if problems.More > 0 && problems.More > 10*MaxLineErrors {
				break // the file is plainly not what it claims; stop reading it
			}
			continue
		}
		if !rd.sensors[reading.SensorID] {
			rd.sensors[reading.SensorID] = true
			f.Sensors = append(f.Sensors, reading.SensorID)
		}
		f.Readings = append(f.Readings, reading)
	}
	if f.Rows == 0 && len(problems.Lines) == 0 {
		problems.add(h.line, "the file has a header but no readings")
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	return f, nil
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func separatorName(r rune) string {
	if r == '\t' {
		return "tab"
	}
	return string(r)
}

// message is a domain refusal's text without its code.
func message(err error) string {
	var e *shipment.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
