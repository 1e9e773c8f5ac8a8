package loggercsv

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// header is the header row as the reader uses it.
type header struct {
	line    int  // its line number (1-based)
	comma   rune // the separator it uses
	names   Columns
	time    int // column indexes; -1 when absent
	date    int
	temp    int
	sensor  int
	unitCol int
	unit    Unit // from the temperature column's name, "" when it names none
	width   int  // the columns a row needs to reach every used one
}

// Header names, after fold: lower case, accents and punctuation gone.
// Several languages, since loggers export in the user's.
var (
	timeNames = set("time", "timestamp", "time stamp", "datetime", "date time", "date and time", "recorded at",
		"utc time", "local time", "zeit", "zeitstempel", "datum uhrzeit", "datum zeit", "fecha hora", "fecha y hora",
		"marca de tiempo", "data hora", "data e hora", "date heure", "horodatage")
	dateNames     = set("date", "datum", "fecha", "data")
	timeOfDay     = set("time", "zeit", "uhrzeit", "hora", "heure")
	sensorNames   = set("sensor", "sensor id", "sensorid", "logger", "logger id", "serial", "serial number", "serial no", "sn", "device", "device id", "probe", "seriennummer", "numero de serie")
	unitNames     = set("unit", "units", "einheit", "unidad", "unidade", "unite")
	temperatureIn = []string{"temp", "celsius", "fahrenheit"} // any word starting so
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// fold makes a header cell comparable: lower case, accents removed, every
// run of other characters one space ("Temp. (°C)" is "temp c").
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	s, _, _ = transform.String(t, strings.ToLower(s))
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), " ")
}

// unitOf reads a unit from a header cell: "Temp (°F)", "Temperatur [°C]",
// "temperature_f", "Fahrenheit".
func unitOf(cell string) Unit {
	c := strings.ToLower(cell)
	for _, u := range []struct {
		unit  Unit
		marks []string
	}{
		{Fahrenheit, []string{"°f", "ºf", "fahrenheit", "degf", "deg f", "(f)", "[f]", "_f", " f"}},
		{Celsius, []string{"°c", "ºc", "celsius", "degc", "deg c", "(c)", "[c]", "_c", " c"}},
	} {
		for _, m := range u.marks {
			if strings.Contains(c, m) && (m[0] != ' ' && m[0] != '_' || strings.HasSuffix(c, m)) {
				return u.unit
			}
		}
	}
	return ""
}

// degrees reports whether a header cell names a unit with a degree sign
// ("Probe 1 (°C)"): a temperature column whatever its words.
func degrees(cell string) bool {
	c := strings.ToLower(cell)
	return strings.Contains(c, "°c") || strings.Contains(c, "°f") || strings.Contains(c, "ºc") || strings.Contains(c, "ºf")
}

func isTemperature(folded string) bool {
	for _, w := range strings.Fields(folded) {
		for _, p := range temperatureIn {
			if strings.HasPrefix(w, p) {
				return true
			}
		}
	}
	return false
}

// findHeader reads lines until one names a time and a temperature column:
// loggers put device details above the header. The separator is the one
// of ";", tab and "," that the line uses most (ties in that order: a
// semicolon file may hold decimal commas, a comma file no semicolons).
func findHeader(br *bufio.Reader) (header, error) {
	var lineErr Error
	for n := 1; n <= MaxPreambleLines; n++ {
		line, err := br.ReadString('\n')
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte order mark
		}
		if strings.TrimSpace(line) != "" {
			if h, ok, problem := parseHeader(line, n); ok {
				return h, nil
			} else if problem != "" {
				lineErr.add(n, "%s", problem)
				return header{}, &lineErr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return header{}, fmt.Errorf("read the CSV file: %w", err)
		}
	}
	lineErr.add(1, "no header row naming a time column (time, timestamp, date and time …) and a temperature column "+
		"(temperature, temp °C …) in the first %d lines", MaxPreambleLines)
	return header{}, &lineErr
}

// parseHeader reads line as a header; ok false with no problem means it
// is not one (a preamble line).
func parseHeader(line string, n int) (h header, ok bool, problem string) {
	comma := ','
	best := 0
	for _, c := range []rune{';', '\t', ','} {
		if k := strings.Count(line, string(c)); k > best {
			comma, best = c, k
		}
	}
	cr := csv.NewReader(strings.NewReader(line))
	cr.Comma, cr.FieldsPerRecord, cr.TrimLeadingSpace = comma, -1, true
	cells, err := cr.Read()
	if err != nil {
		return h, false, ""
	}
	h = header{line: n, comma: comma, time: -1, date: -1, temp: -1, sensor: -1, unitCol: -1}
	var temps []string
	for i, cell := range cells {
		f := fold(cell)
		switch {
		case timeNames[f] || timeOfDay[f] || strings.Contains(f, "timestamp"):
			if h.time < 0 {
				h.time, h.names.Time = i, cell
			}
		case dateNames[f]:
			h.date, h.names.Date = i, cell
		case sensorNames[f]:
			h.sensor, h.names.Sensor = i, cell
		case unitNames[f]:
			h.unitCol, h.names.Unit = i, cell
		case isTemperature(f) || degrees(cell):
			temps = append(temps, cell)
			if h.temp < 0 {
				h.temp, h.names.Temperature = i, cell
			}
		}
	}
	// "Date" and "Time" in columns of their own: the time column is the
	// time of day, the date comes from the other.
	if h.date >= 0 && h.time >= 0 && !timeOfDay[fold(h.names.Time)] {
		h.date, h.names.Date = -1, "" // a full timestamp column wins over a date column
	}
	if h.time < 0 && h.date >= 0 {
		h.time, h.names.Time, h.date, h.names.Date = h.date, h.names.Date, -1, ""
	}
	if h.time < 0 || h.temp < 0 {
		return h, false, ""
	}
	if len(temps) > 1 {
		return h, false, fmt.Sprintf("more than one temperature column (%s): export one logger channel per file, "+
			"or one column per row with a sensor column", strings.Join(temps, ", "))
	}
	h.unit = unitOf(h.names.Temperature)
	for _, i := range []int{h.time, h.date, h.temp, h.sensor, h.unitCol} {
		if i+1 > h.width {
			h.width = i + 1
		}
	}
	return h, true, ""
}
