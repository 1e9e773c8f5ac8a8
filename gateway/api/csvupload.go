package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/encoding/charmap"

	"github.com/shiptrace/shiptrace/loggercsv"
	"github.com/shiptrace/shiptrace/shipment"
)

const (
	mimeCSV = "text/csv"
	// csvRoute is the one route that takes a CSV file.
	csvRoute = "/v1/shipments/:id/readings"
)

// CSVLimits bound a logger's CSV file on the readings route.
type CSVLimits struct {
	MaxBytes int64 // the file (default 32 MiB)
	MaxRows  int   // its data rows (default loggercsv.DefaultMaxRows)
	Batch    int   // readings per transaction (default and most: shipment.MaxBatchReadings)
	Sensors  int   // sensors uploaded side by side (default 4)
}

func (l CSVLimits) withDefaults() CSVLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 32 << 20
	}
	if l.MaxRows <= 0 {
		l.MaxRows = loggercsv.DefaultMaxRows
	}
	if l.Batch <= 0 || l.Batch > shipment.MaxBatchReadings {
		l.Batch = shipment.MaxBatchReadings
	}
	if l.Sensors <= 0 {
		l.Sensors = 4
	}
	return l
}

func isCSV(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	return err == nil && mt == mimeCSV
}

// csvText returns a CSV file as UTF-8. Loggers' Windows software often
// writes Windows-1252 ("°" as one byte 0xB0); the client says so with the
// charset parameter rather than the gateway guessing.
func csvText(body []byte, charset string) ([]byte, error) {
	switch strings.ToLower(charset) {
	case "", "utf-8", "utf8", "us-ascii":
		if !utf8.Valid(body) {
			return nil, badRequest("the CSV file is not valid UTF-8",
				"a logger that exports Windows-1252 or Latin-1: send Content-Type: text/csv; charset=windows-1252")
		}
		return body, nil
	case "windows-1252", "cp1252", "iso-8859-1", "latin1":
		return charmap.Windows1252.NewDecoder().Bytes(body)
	}
	return nil, problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "The CSV file's charset is not supported",
		"send UTF-8 or windows-1252")
}

// CSVReceipt answers a CSV upload: what was read, and each transaction.
type CSVReceipt struct {
	ShipmentID      string  `json:"shipmentId"`
	File            CSVFile `json:"file"`
	Batches         int     `json:"batches"`
	Recorded        int     `json:"recorded"`        // batches this request recorded
	AlreadyRecorded int     `json:"alreadyRecorded"` // batches the ledger had already: the file, or part of it, was sent before
	Late            int     `json:"late"`            // readings at or before their sensor's latest on the ledger
	Breached        bool    `json:"breached"`        // the shipment's cold chain is breached (by this file or before it)
	Transactions    []CSVTx `json:"transactions"`
}

// CSVFile is what the gateway read from the file.
type CSVFile struct {
	SHA256    string            `json:"sha256"`
	Rows      int               `json:"rows"`
	Readings  int               `json:"readings"`
	Sensors   []string          `json:"sensors"`
	Separator string            `json:"separator"`
	Unit      loggercsv.Unit    `json:"unit"`
	Columns   loggercsv.Columns `json:"columns"`
}

// CSVTx is one batch's transaction.
type CSVTx struct {
	TxID        string    `json:"txId"`
	BlockNumber uint64    `json:"blockNumber"`
	Sensor      string    `json:"sensor"`
	Readings    int       `json:"readings"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Duplicate   bool      `json:"duplicate,omitempty"`
}

// recordCSV records a logger's CSV file. The whole file is read and
// checked first, so a file with any problem records nothing and its answer
// lists each problem with its line. It is then split into the contract's
// batches (per sensor, in time order), which go to the ledger: each
// sensor's first batch one after another, since it may register the
// sensor in the shipment record every batch reads, then each sensor's
// other batches in order (they share its summary key), sensors side by
// side. The split depends only on the file, and the contract recognises a
// batch it has by its content: sending the same file again, after an
// error or a lost answer, records nothing twice. An Idempotency-Key adds
// nothing to that and is not needed.
func (s *Server) recordCSV(c echo.Context) error {
	id := c.Param("id")
	if err := shipment.ValidateID(id); err != nil {
		return err
	}
	q := c.QueryParams()
	o := loggercsv.Options{Sensor: q.Get("sensor"), Unit: loggercsv.Unit(strings.ToUpper(q.Get("unit"))),
		DateOrder: loggercsv.DateOrder(q.Get("dates")), MaxRows: s.csv.MaxRows, Now: s.now()}
	if tz := q.Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return badRequest("tz: not an IANA time zone (such as Europe/Berlin or America/Chicago)")
		}
		o.Location = loc
	}
	body := bodyOf(c)
	f, err := loggercsv.Read(bytes.NewReader(body), o)
	if err != nil {
		var bad *loggercsv.Error
		if !errors.As(err, &bad) {
			return err
		}
		p := problem(http.StatusUnprocessableEntity, "invalid-csv", "The CSV file was refused; nothing was recorded",
			fmt.Sprintf("%d problems; fix them and send the whole file again", len(bad.Lines)+bad.More))
		for _, l := range bad.Lines {
			p.Errors = append(p.Errors, l.String())
		}
		if bad.More > 0 {
			p.Errors = append(p.Errors, fmt.Sprintf("%d more problems not listed", bad.More))
		}
		return p
	}
	sum := sha256.Sum256(body)
	r := CSVReceipt{ShipmentID: id, File: CSVFile{SHA256: hex.EncodeToString(sum[:]), Rows: f.Rows, Readings: len(f.Readings),
		Sensors: f.Sensors, Separator: f.Separator, Unit: f.Unit, Columns: f.Columns}}
	batches := loggercsv.Batches(f.Readings, s.csv.Batch)
	r.Batches = len(batches)
	results := make([]batchResult, len(batches))
	err = s.submitBatches(c, id, batches, results)
	for _, b := range results {
		if b.tx.TxID == "" {
			continue
		}
		r.Transactions = append(r.Transactions, b.tx)
		if b.tx.Duplicate {
			r.AlreadyRecorded++
		} else {
			r.Recorded++
		}
		r.Late += b.late
		r.Breached = r.Breached || b.breached
	}
	if err != nil {
		p := toProblem(err)
		p.Detail = fmt.Sprintf("%s; %d of the file's %d batches are on the ledger: send the same file again, "+
			"those are recognised and not recorded twice", p.Detail, len(r.Transactions), len(batches))
		return p
	}
	return c.JSON(http.StatusOK, r)
}

// batchResult is one batch's outcome.
type batchResult struct {
	tx       CSVTx
	late     int
	breached bool
}

// submitBatches records batches (as loggercsv.Batches made them: each
// sensor's in order) and fills results for those that committed; it stops
// at the first failure and waits for the batches under way.
func (s *Server) submitBatches(c echo.Context, id string, batches [][]shipment.Reading, results []batchResult) error {
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	var lanes [][]int // per sensor, the indexes of its batches
	lane := map[string]int{}
	for i, b := range batches {
		k, ok := lane[b[0].SensorID]
		if !ok {
			k = len(lanes)
			lane[b[0].SensorID] = k
			lanes = append(lanes, nil)
		}
		lanes[k] = append(lanes[k], i)
	}
	submit := func(i int) error {
		arg, err := json.Marshal(batches[i])
		if err != nil {
			return err
		}
		req := s.request(c, write{op: string(shipment.OpRecordReadings), target: id, args: []string{id, string(arg)}}, nil)
		committed, err := fabricSubmit(ctx, s.ledger, req)
		if err != nil {
			return err
		}
		var receipt struct {
			Late      int  `json:"late"`
			Duplicate bool `json:"duplicate"`
			ColdChain *struct {
				State string `json:"state"`
			} `json:"coldChain"`
		}
		_ = json.Unmarshal(committed.Result, &receipt) // a sensor's receipt says less; the counts stay zero
		b := batches[i]
		results[i] = batchResult{
			tx: CSVTx{TxID: committed.TxID, BlockNumber: committed.BlockNumber, Sensor: b[0].SensorID, Readings: len(b),
				From: b[0].Time, To: b[len(b)-1].Time, Duplicate: receipt.Duplicate},
			late:     receipt.Late,
			breached: receipt.ColdChain != nil && receipt.ColdChain.State == string(shipment.ColdChainBreached),
		}
		c.Set(ctxTxID, committed.TxID)
		return nil
	}
	// Each sensor's first batch alone: it may write the shipment record.
	for _, l := range lanes {
		if err := submit(l[0]); err != nil {
			return err
		}
	}
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		slots = make(chan struct{}, s.csv.Sensors)
	)
	for _, l := range lanes {
		if len(l) == 1 {
			continue
		}
		wg.Add(1)
		go func(l []int) {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			for _, i := range l[1:] {
				if ctx.Err() != nil {
					return
				}
				if err := submit(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}(l)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
