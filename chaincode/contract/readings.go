package contract

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/shiptrace/shiptrace/shipment"
)

// bucketMillis is the time span of one reading chunk. A batch is split at
// bucket boundaries, so chunks of different buckets never overlap in time and
// a time-ordered read only merges the chunks of one bucket at a time.
const bucketMillis = int64(time.Hour / time.Millisecond)

// chunk is one batch's readings that fall into one bucket, stored as columns
// to keep the value small: sensor names once, then per reading the sensor's
// index, the offset in milliseconds from the bucket start and the
// temperature. Readings are sorted by time, sensor and temperature. By names
// the identity that recorded the batch (an enrolment ID, a device name, never
// personal data), so members can tell which logger said what.
type chunk struct {
	Version int       `json:"v"`
	By      string    `json:"by,omitempty"` // who recorded the batch: "<MSP ID>/<enrolment ID>"
	Sensors []string  `json:"s"`
	Sensor  []int     `json:"i"`
	Offset  []int64   `json:"t"`
	Celsius []float64 `json:"c"`
}

// storedChunk is a chunk with its key, to be written, and the time span of
// its readings.
type storedChunk struct {
	key     string
	value   []byte
	sensors []string
	spanMs  int64
}

func bucketOf(t time.Time) int64 { return t.UnixMilli() / bucketMillis }

func readingsKeyPrefix(id string) string { return readingsPrefix + id + "~" }

// chunkKey sorts by shipment, then bucket (fixed width), then the offset
// of the chunk's first reading in the bucket (fixed width), then batch
// digest. The offset lets a query for a span of time inside an hour skip
// the chunks that start too early to reach it (see ledgerColdChain.Series).
func chunkKey(id string, bucket, offsetMs int64, digest string) string {
	return fmt.Sprintf("%s%07d~%s", bucketPrefix(id, bucket), offsetMs, digest)
}

// bucketPrefix is the start of every chunk key of one bucket.
func bucketPrefix(id string, bucket int64) string {
	return fmt.Sprintf("%s%010d~", readingsKeyPrefix(id), bucket)
}

// batchDigest identifies a batch by its content, so uploading the same batch
// again is recognised and not recorded twice.
func batchDigest(sorted []shipment.Reading) string {
	h := sha256.New()
	for _, r := range sorted {
		fmt.Fprintf(h, "%s|%d|%s\n", r.SensorID, r.Time.UnixMilli(), strconv.FormatFloat(r.Celsius, 'g', -1, 64))
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// encodeChunks splits a time-sorted batch into one chunk per bucket.
func encodeChunks(id string, sorted []shipment.Reading, by shipment.Caller) ([]storedChunk, error) {
	digest := batchDigest(sorted)
	var out []storedChunk
	for start := 0; start < len(sorted); {
		b := bucketOf(sorted[start].Time)
		end := start
		for end < len(sorted) && bucketOf(sorted[end].Time) == b {
			end++
		}
		c := chunk{Version: 1, By: recorder(by)}
		first := sorted[start].Time.UnixMilli() - b*bucketMillis
		idx := map[string]int{}
		for _, r := range sorted[start:end] {
			i, ok := idx[r.SensorID]
			if !ok {
				i = len(c.Sensors)
				idx[r.SensorID] = i
				c.Sensors = append(c.Sensors, r.SensorID)
			}
			c.Sensor = append(c.Sensor, i)
			c.Offset = append(c.Offset, r.Time.UnixMilli()-b*bucketMillis)
			c.Celsius = append(c.Celsius, r.Celsius)
		}
		v, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode readings chunk: %w", err)
		}
		out = append(out, storedChunk{key: chunkKey(id, b, first, digest), value: v, sensors: c.Sensors,
			spanMs: sorted[end-1].Time.UnixMilli() - sorted[start].Time.UnixMilli()})
		start = end
	}
	return out, nil
}

// recorder names the identity that recorded a batch.
func recorder(c shipment.Caller) string {
	if c.ID == "" {
		return c.MSPID
	}
	return c.MSPID + "/" + c.ID
}

// chunkName is the part of a chunk key after the shipment prefix
// ("<bucket>~<offset>~<digest>"); it orders chunks and identifies them in
// bookmarks.
func chunkName(id, key string) (name string, bucket int64, err error) {
	name = strings.TrimPrefix(key, readingsKeyPrefix(id))
	b, _, ok := strings.Cut(name, "~")
	if !ok {
		return "", 0, fmt.Errorf("malformed readings key %q", key)
	}
	bucket, err = strconv.ParseInt(b, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("malformed readings key %q: %w", key, err)
	}
	return name, bucket, nil
}

func decodeChunk(bucket int64, value []byte) ([]shipment.Reading, error) {
	var c chunk
	if err := json.Unmarshal(value, &c); err != nil {
		return nil, fmt.Errorf("decode readings chunk: %w", err)
	}
	if len(c.Sensor) != len(c.Offset) || len(c.Offset) != len(c.Celsius) {
		return nil, fmt.Errorf("decode readings chunk: column lengths differ")
	}
	out := make([]shipment.Reading, len(c.Offset))
	for i := range c.Offset {
		if c.Sensor[i] < 0 || c.Sensor[i] >= len(c.Sensors) {
			return nil, fmt.Errorf("decode readings chunk: sensor index out of range")
		}
		out[i] = shipment.Reading{
			SensorID:   c.Sensors[c.Sensor[i]],
			Time:       time.UnixMilli(bucket*bucketMillis + c.Offset[i]).UTC(),
			Celsius:    c.Celsius[i],
			RecordedBy: c.By,
		}
	}
	return out, nil
}

// position is a reading's place in the listing order: time, then chunk, then
// index inside the chunk. It is total even when batches overlap in time or
// repeat a reading, so a bookmark resumes exactly where the page ended.
type position struct {
	ms    int64
	chunk string
	index int
}

func (p position) compare(q position) int {
	if c := cmp.Compare(p.ms, q.ms); c != 0 {
		return c
	}
	if c := cmp.Compare(p.chunk, q.chunk); c != 0 {
		return c
	}
	return cmp.Compare(p.index, q.index)
}

func (p position) bookmark() string {
	return fmt.Sprintf("r1.%d.%s.%d", p.ms, p.chunk, p.index)
}

func parseBookmark(s string) (position, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 || parts[0] != "r1" {
		return position{}, shipment.Errorf(shipment.Invalid, "bookmark: not a bookmark returned by Readings")
	}
	ms, err1 := strconv.ParseInt(parts[1], 10, 64)
	idx, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || idx < 0 {
		return position{}, shipment.Errorf(shipment.Invalid, "bookmark: not a bookmark returned by Readings")
	}
	return position{ms: ms, chunk: parts[2], index: idx}, nil
}

type positioned struct {
	pos position
	r   shipment.Reading
}

// readingsPage lists readings of shipment id with from <= time <= to (zero
// bounds are open) in time order, at most pageSize, after bookmark. It reads
// only the buckets it needs: from the bucket of the later of from and the
// bookmark, one bucket at a time, and stops when the page is full.
func readingsPage(stub shim.ChaincodeStubInterface, id string, from, to time.Time, pageSize int, bookmark string) ([]shipment.Reading, string, error) {
	var after *position
	if bookmark != "" {
		p, err := parseBookmark(bookmark)
		if err != nil {
			return nil, "", err
		}
		after = &p
	}
	startBucket := int64(0)
	if !from.IsZero() {
		startBucket = bucketOf(from)
	}
	if after != nil {
		startBucket = max(startBucket, after.ms/bucketMillis)
	}
	endKey := readingsKeyPrefix(id) + "\uffff"
	if !to.IsZero() {
		endKey = bucketPrefix(id, bucketOf(to)+1)
	}
	it, err := stub.GetStateByRange(bucketPrefix(id, startBucket), endKey)
	if err != nil {
		return nil, "", fmt.Errorf("read readings of %s: %w", id, err)
	}
	defer it.Close()

	var page []positioned
	var group []positioned
	groupBucket := int64(-1)
	flush := func() {
		slices.SortFunc(group, func(a, b positioned) int { return a.pos.compare(b.pos) })
		for _, g := range group {
			if len(page) > pageSize {
				break
			}
			if !from.IsZero() && g.r.Time.Before(from) || !to.IsZero() && g.r.Time.After(to) {
				continue
			}
			if after != nil && g.pos.compare(*after) <= 0 {
				continue
			}
			page = append(page, g)
		}
		group = group[:0]
	}
	for it.HasNext() && len(page) <= pageSize {
		kv, err := it.Next()
		if err != nil {
			return nil, "", fmt.Errorf("read readings of %s: %w", id, err)
		}
		name, bucket, err := chunkName(id, kv.Key)
		if err != nil {
			return nil, "", err
		}
		if bucket != groupBucket {
			flush()
			groupBucket = bucket
			if len(page) > pageSize {
				break
			}
		}
		rs, err := decodeChunk(bucket, kv.Value)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", kv.Key, err)
		}
		for i, r := range rs {
			group = append(group, positioned{pos: position{ms: r.Time.UnixMilli(), chunk: name, index: i}, r: r})
		}
	}
	flush()

	next := ""
	if len(page) > pageSize {
		page = page[:pageSize]
		next = page[pageSize-1].pos.bookmark()
	}
	items := make([]shipment.Reading, len(page))
	for i, p := range page {
		items[i] = p.r
	}
	return items, next, nil
}

// ledgerColdChain is a shipment's cold chain on the ledger, as
// shipment.RecordReadings reads it (shipment.ColdChainStore).
type ledgerColdChain struct {
	stub shim.ChaincodeStubInterface
	id   string
	// spanMs is, per sensor read, the longest time span of a stored chunk
	// holding its readings: how far before a time a chunk that reaches it
	// can start.
	spanMs map[string]int64
}

func newLedgerColdChain(stub shim.ChaincodeStubInterface, id string) *ledgerColdChain {
	return &ledgerColdChain{stub: stub, id: id, spanMs: map[string]int64{}}
}

// storedSensor is a sensor's summary as stored: the domain's summary and
// the storage's own note of the longest chunk span.
type storedSensor struct {
	shipment.SensorSummary
	ChunkSpanMs int64 `json:"chunkSpanMs,omitempty"`
}

func (l *ledgerColdChain) Sensor(sensor string) (shipment.SensorSummary, bool, error) {
	key, err := sensorKey(l.stub, l.id, sensor)
	if err != nil {
		return shipment.SensorSummary{}, false, err
	}
	b, err := l.stub.GetState(key)
	if err != nil {
		return shipment.SensorSummary{}, false, fmt.Errorf("read sensor %s of %s: %w", sensor, l.id, err)
	}
	if b == nil {
		return shipment.SensorSummary{}, false, nil
	}
	var st storedSensor
	if err := json.Unmarshal(b, &st); err != nil {
		return shipment.SensorSummary{}, false, fmt.Errorf("decode sensor %s of %s: %w", sensor, l.id, err)
	}
	l.spanMs[sensor] = st.ChunkSpanMs
	return st.SensorSummary, true, nil
}

// Series reads the sensor's stored readings in [from, to]. Chunks never
// cross an hour, and inside an hour their keys are ordered by the offset
// of their first reading, so it reads per hour only the chunks that start
// between from minus the sensor's longest chunk span and to: on a dense
// series a short window costs a few chunks, not the whole hour.
func (l *ledgerColdChain) Series(sensor string, from, to time.Time) ([]shipment.Reading, error) {
	span, ok := l.spanMs[sensor]
	if !ok {
		span = bucketMillis // not read: assume the longest
	}
	var out []shipment.Reading
	for b := bucketOf(from); b <= bucketOf(to); b++ {
		lo, hi := int64(0), bucketMillis
		if b == bucketOf(from) {
			lo = max(0, from.UnixMilli()-b*bucketMillis-span)
		}
		if b == bucketOf(to) {
			hi = to.UnixMilli() - b*bucketMillis + 1
		}
		if err := l.scan(chunkKey(l.id, b, lo, ""), chunkKey(l.id, b, hi, ""), b, func(r shipment.Reading) {
			if r.SensorID == sensor && !r.Time.Before(from) && !r.Time.After(to) {
				out = append(out, r)
			}
		}); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, shipment.CompareReadings)
	return out, nil
}

// scan decodes the chunks of one bucket with keys in [start, end).
func (l *ledgerColdChain) scan(start, end string, bucket int64, each func(shipment.Reading)) error {
	it, err := l.stub.GetStateByRange(start, end)
	if err != nil {
		return fmt.Errorf("read readings of %s: %w", l.id, err)
	}
	defer it.Close()
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return fmt.Errorf("read readings of %s: %w", l.id, err)
		}
		rs, err := decodeChunk(bucket, kv.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", kv.Key, err)
		}
		for _, r := range rs {
			each(r)
		}
	}
	return nil
}

// summary puts together the shipment's cold chain as readers see it: the
// verdict in the record and the summary of every sensor it lists.
func (l *ledgerColdChain) summary(v shipment.ColdChainVerdict) (shipment.ColdChainSummary, error) {
	sensors := make([]shipment.SensorSummary, 0, len(v.Sensors))
	for _, id := range v.Sensors {
		st, ok, err := l.Sensor(id)
		if err != nil {
			return shipment.ColdChainSummary{}, err
		}
		if ok {
			sensors = append(sensors, st)
		}
	}
	return shipment.Summarize(v, sensors), nil
}
