package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/gateway/api"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// postCSV sends a CSV file as who, raw, as a logger's upload tool would.
func (g *gateway) postCSV(path, who, contentType string, file []byte) resp {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+path, bytes.NewReader(file))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+keyOf(who))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// TestLoggerCSVFileOf100000Rows: a reefer's two loggers exported as one
// CSV file of 100,000 rows (semicolons, decimal commas, UTC offsets), sent
// in one request to the running network through the gateway. Every
// reading is counted once; the same file sent again records nothing; a
// file with a bad line records nothing and names the line.
func TestLoggerCSVFileOf100000Rows(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local network")
	}
	net := testnet.Require(t)
	g := startGateway(t, net, gatewayOpts{})
	id := testnet.UniqueID("CSV")
	start := inTransitThroughREST(t, g, id, 30)

	// 50,000 readings per logger, 5 ms apart: 250 s after the hand-over,
	// inside the 5 minutes a reading may lead the transaction clock.
	const perLogger = 50_000
	var b strings.Builder
	b.WriteString("Logger export\nSerial;Timestamp;Temperature °C\n")
	for i := range perLogger {
		at := start.Add(time.Duration(i) * 5 * time.Millisecond).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		fmt.Fprintf(&b, "REEFER-A;%s;%d,%d\n", at, 4+i%2, i%10)
		fmt.Fprintf(&b, "REEFER-B;%s;%d,%d\n", at, 5, i%10)
	}
	file := []byte(b.String())

	began := time.Now()
	r := g.postCSV("/v1/shipments/"+id+"/readings", "carrier", "text/csv", file)
	elapsed := time.Since(began)
	if r.Status != http.StatusOK {
		t.Fatalf("upload: %d %.600s", r.Status, r.Body)
	}
	var receipt api.CSVReceipt
	r.json(t, &receipt)
	t.Logf("%d rows (%d KB) in one request: %d batches, %s, %.0f readings/s", receipt.File.Rows, len(file)/1024,
		receipt.Batches, elapsed.Round(time.Millisecond), float64(receipt.File.Readings)/elapsed.Seconds())
	if receipt.File.Rows != 2*perLogger || receipt.Recorded != receipt.Batches || receipt.Batches != 100 || receipt.AlreadyRecorded != 0 {
		t.Fatalf("receipt: %d rows, %d batches, %d recorded, %d already", receipt.File.Rows, receipt.Batches, receipt.Recorded, receipt.AlreadyRecorded)
	}
	if s := g.get(id); s.ColdChain.Count != 2*perLogger || s.ColdChain.State != "OK" {
		t.Fatalf("the ledger counts %d readings (%s), want %d", s.ColdChain.Count, s.ColdChain.State, 2*perLogger)
	}

	// The answer was lost, say: the same file again records nothing.
	began = time.Now()
	r = g.postCSV("/v1/shipments/"+id+"/readings", "carrier", "text/csv; charset=utf-8", file)
	if r.Status != http.StatusOK {
		t.Fatalf("again: %d %.600s", r.Status, r.Body)
	}
	var again api.CSVReceipt
	r.json(t, &again)
	t.Logf("the same file again: %d of %d batches already recorded, %s", again.AlreadyRecorded, again.Batches, time.Since(began).Round(time.Millisecond))
	if again.AlreadyRecorded != 100 || again.Recorded != 0 {
		t.Fatalf("the same file again recorded %d batches", again.Recorded)
	}

	// One bad line among good ones: nothing of the file is recorded.
	bad := bytes.Replace(file, []byte(";5,1\n"), []byte(";5,1,5\n"), 1) // line 5: REEFER-A, second reading
	later := strings.ReplaceAll(string(bad), "REEFER-", "SPARE-")
	r = g.postCSV("/v1/shipments/"+id+"/readings", "carrier", "text/csv", []byte(later))
	var p api.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil || r.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 ||
		!strings.HasPrefix(p.Errors[0], "line 5: ") {
		t.Fatalf("a file with a bad line: %d %+v", r.Status, p)
	}
	if s := g.get(id); s.ColdChain.Count != 2*perLogger {
		t.Fatalf("a refused file changed the count to %d", s.ColdChain.Count)
	}
}
