package shipment

import (
	"slices"
	"time"
)

// memStore keeps a shipment's cold chain in memory the way the contract
// keeps it on the ledger: a verdict, a summary per sensor, every batch. It
// counts what Series returns, so tests can see what a late reading costs.
type memStore struct {
	sensors    map[string]SensorSummary
	stored     []Reading
	seriesRead int // readings returned by Series
}

func (m *memStore) Sensor(id string) (SensorSummary, bool, error) {
	st, ok := m.sensors[id]
	return st, ok, nil
}

func (m *memStore) Series(id string, from, to time.Time) ([]Reading, error) {
	var out []Reading
	for _, r := range m.stored {
		if r.SensorID == id && !r.Time.Before(from) && !r.Time.After(to) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, CompareReadings)
	m.seriesRead += len(out)
	return out, nil
}

// apply writes what a batch changed, as the contract does.
func (m *memStore) apply(batch []Reading, ch ReadingsChange) {
	if m.sensors == nil {
		m.sensors = map[string]SensorSummary{}
	}
	for _, st := range ch.Sensors {
		m.sensors[st.ID] = st
	}
	m.stored = append(m.stored, batch...)
}

func (m *memStore) summary(v ColdChainVerdict) ColdChainSummary {
	var all []SensorSummary
	for _, id := range v.Sensors {
		all = append(all, m.sensors[id])
	}
	return Summarize(v, all)
}

// recordInto records a batch and, when it is accepted, stores its change
// and refreshes s.ColdChain as a reader would see it.
func recordInto(s *Shipment, m *memStore, c Caller, at time.Time, batch []Reading) (RecordResult, error) {
	ch, err := s.RecordReadings(c, at, batch, m)
	if err != nil {
		return RecordResult{}, err
	}
	m.apply(batch, ch)
	s.ColdChain = m.summary(s.ColdChainVerdict)
	return ch.Result, nil
}
