package loggercsv

import (
	"slices"

	"github.com/shiptrace/shiptrace/shipment"
)

// Batches splits readings into the contract's batches: per sensor, in the
// order the sensors first appear, each sensor's readings in time order, at
// most size a batch. The split depends only on the readings, so sending the
// same file again makes the same batches, which the contract recognises by
// their content and does not record twice.
func Batches(readings []shipment.Reading, size int) [][]shipment.Reading {
	if size <= 0 || size > shipment.MaxBatchReadings {
		size = shipment.MaxBatchReadings
	}
	var order []string
	by := map[string][]shipment.Reading{}
	for _, r := range readings {
		if _, ok := by[r.SensorID]; !ok {
			order = append(order, r.SensorID)
		}
		by[r.SensorID] = append(by[r.SensorID], r)
	}
	var out [][]shipment.Reading
	for _, s := range order {
		rs := by[s]
		slices.SortStableFunc(rs, func(a, b shipment.Reading) int { return a.Time.Compare(b.Time) })
		for len(rs) > 0 {
			n := min(size, len(rs))
			out = append(out, rs[:n:n])
			rs = rs[n:]
		}
	}
	return out
}
