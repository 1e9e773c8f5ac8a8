package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

// loggerFile is a two-logger CSV file in a German export's shape, n rows
// per logger, interleaved, a minute apart, in Europe/Berlin local time.
func loggerFile(n int) string {
	var b strings.Builder
	b.WriteString("Gerät: Testlogger\nSeriennummer;Datum;Uhrzeit;Temperatur [°C]\n")
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for i := range n {
		for _, s := range []string{"hold-1", "hold-2"} {
			t := t0.Add(time.Duration(i) * time.Minute)
			fmt.Fprintf(&b, "%s;%s;%s;%d,%d\n", s, t.Format("02.01.2006"), t.Format("15:04:05"), 3+i%3, i%10)
		}
	}
	return b.String()
}

func csvBody(key string) []reqOpt {
	return []reqOpt{withKey(key), withHeader("Content-Type", "text/csv; charset=utf-8")}
}

func readingsWrites(l *fakeLedger) [][]shipment.Reading {
	var out [][]shipment.Reading
	for _, c := range l.Calls() {
		if c.Tx != string(shipment.OpRecordReadings) {
			continue
		}
		var batch []shipment.Reading
		if err := json.Unmarshal([]byte(c.Args[1]), &batch); err != nil {
			panic(err)
		}
		out = append(out, batch)
	}
	return out
}

func TestACSVFileIsRecordedInBatchesPerSensor(t *testing.T) {
	l := &fakeLedger{}
	h := newHarness(t, l)
	rec := h.do(http.MethodPost, "/v1/shipments/SHP-1/readings?tz=Europe/Berlin", loggerFile(2500), csvBody(carrierKey)...)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var r CSVReceipt
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.File.Rows != 5000 || r.File.Readings != 5000 || r.File.Separator != ";" || r.File.Unit != "C" ||
		strings.Join(r.File.Sensors, ",") != "hold-1,hold-2" || r.Batches != 6 || r.Recorded != 6 || len(r.Transactions) != 6 {
		t.Fatalf("receipt %+v", r)
	}
	writes := readingsWrites(l)
	if len(writes) != 6 {
		t.Fatalf("%d RecordReadings, want 6 (2 sensors × 2,500 in batches of 1,000)", len(writes))
	}
	// Each sensor's first batch goes alone, before any other: it may
	// register the sensor in the record.
	if writes[0][0].SensorID != "hold-1" || writes[1][0].SensorID != "hold-2" || len(writes[0]) != 1000 {
		t.Errorf("first writes: %s (%d), %s", writes[0][0].SensorID, len(writes[0]), writes[1][0].SensorID)
	}
	per := map[string]int{}
	for _, w := range writes {
		for i, rd := range w {
			if rd.SensorID != w[0].SensorID || i > 0 && !rd.Time.After(w[i-1].Time) {
				t.Fatalf("a batch mixes sensors or is out of time order at %d", i)
			}
		}
		per[w[0].SensorID] += len(w)
	}
	if per["hold-1"] != 2500 || per["hold-2"] != 2500 {
		t.Errorf("readings per sensor %v", per)
	}
	// 08:00 in Berlin in November is 07:00 UTC; "3,0" is 3.0 °C.
	if first := writes[0][0]; !first.Time.Equal(time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)) || first.Celsius != 3 {
		t.Errorf("first reading %+v", first)
	}
}

func TestAMalformedCSVFileRecordsNothingAndNamesItsLines(t *testing.T) {
	l := &fakeLedger{}
	h := newHarness(t, l)
	bad, err := os.ReadFile("../../loggercsv/testdata/malformed.csv")
	if err != nil {
		t.Fatal(err)
	}
	rec := h.do(http.MethodPost, "/v1/shipments/SHP-1/readings?sensor=hold-1&tz=UTC", string(bad), csvBody(carrierKey)...)
	p := problemOf(t, rec)
	if rec.Code != http.StatusUnprocessableEntity || p.Type != "urn:shiptrace:problem:invalid-csv" || len(p.Errors) != 7 ||
		!strings.HasPrefix(p.Errors[0], "line 3: ") || !strings.HasPrefix(p.Errors[6], "line 9: ") {
		t.Fatalf("status %d, problem %+v", rec.Code, p)
	}
	if n := len(readingsWrites(l)); n != 0 {
		t.Fatalf("%d batches of a refused file were submitted", n)
	}
}

func TestACSVFileInWindows1252NeedsItsCharset(t *testing.T) {
	l := &fakeLedger{}
	h := newHarness(t, l)
	latin := "time,Temp (\xb0C)\n2026-11-02T08:00:00Z,4.5\n" // ° as the single byte 0xB0
	rec := h.do(http.MethodPost, "/v1/shipments/SHP-1/readings?sensor=hold-1", latin, csvBody(carrierKey)...)
	if p := problemOf(t, rec); rec.Code != http.StatusBadRequest || !strings.Contains(strings.Join(p.Errors, " "), "charset=windows-1252") {
		t.Fatalf("without a charset: %d %+v", rec.Code, p)
	}
	rec = h.do(http.MethodPost, "/v1/shipments/SHP-1/readings?sensor=hold-1", latin,
		withKey(carrierKey), withHeader("Content-Type", "text/csv; charset=windows-1252"))
	if rec.Code != http.StatusOK || len(readingsWrites(l)) != 1 {
		t.Fatalf("with charset=windows-1252: %d %s", rec.Code, rec.Body)
	}
	// CSV is for the readings route only.
	rec = h.do(http.MethodPost, "/v1/shipments/SHP-1/documents", "type,sha256\n", csvBody(carrierKey)...)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("CSV to another route: %d", rec.Code)
	}
}

func TestACSVUploadThatFailsMidwaySaysWhatIsOnTheLedger(t *testing.T) {
	l := &fakeLedger{}
	var mu sync.Mutex
	n := 0
	l.start = func(req fabric.Request) (fabric.Submission, error) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k > 3 {
			return nil, &fabric.Error{Reason: fabric.ReasonUnavailable, Err: errors.New("peer0.carrier unreachable")}
		}
		return committedSub(t.Context(), req, `{"shipmentId":"SHP-1","txId":"x","readings":1000}`)
	}
	h := newHarness(t, l)
	rec := h.do(http.MethodPost, "/v1/shipments/SHP-1/readings?tz=Europe/Berlin", loggerFile(2500), csvBody(carrierKey)...)
	p := problemOf(t, rec)
	if !strings.Contains(p.Detail, "3 of the file's 6 batches are on the ledger: send the same file again") {
		t.Fatalf("status %d, problem %+v", rec.Code, p)
	}
}
