package shipment

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// TestPairedSensorsLeaveTheRecord: once its loggers are registered, a
// shipment's first batches of each logger change no record, so they do not
// meet on it; an unpaired logger still registers itself.
func TestPairedSensorsLeaveTheRecord(t *testing.T) {
	s, m := inStatus(t, StatusInTransit), &memStore{}
	added, err := s.RegisterSensors(carrier, at(24*60), []string{"L2", "L1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(added, []string{"L1", "L2"}) || !slices.Equal(s.ColdChainVerdict.Sensors, []string{"L1", "L2"}) {
		t.Fatalf("added %v, verdict lists %v; want L1, L2 both", added, s.ColdChainVerdict.Sensors)
	}
	for _, b := range [][]Reading{{rd("L1", 0, 5), rd("L1", 10, 6)}, {rd("L2", 0, 4)}} {
		before := *s
		ch, err := s.RecordReadings(carrier, at(24*60), b, m)
		if err != nil {
			t.Fatal(err)
		}
		m.apply(b, ch)
		if ch.RecordChanged || !reflect.DeepEqual(before, *s) {
			t.Fatalf("first batch of paired %s changed the record", b[0].SensorID)
		}
	}
	l3 := []Reading{rd("L3", 0, 5)}
	ch, err := s.RecordReadings(carrier, at(24*60), l3, m)
	if err != nil {
		t.Fatal(err)
	}
	m.apply(l3, ch)
	if !ch.RecordChanged || !s.ColdChainVerdict.has("L3") {
		t.Fatalf("unpaired L3: record changed %v, verdict %v", ch.RecordChanged, s.ColdChainVerdict.Sensors)
	}
	if got := m.summary(s.ColdChainVerdict); got.Count != 4 || got.MinC == nil || *got.MinC != 4 || *got.MaxC != 6 {
		t.Fatalf("summary %+v, want 4 readings from 4 to 6 °C", got)
	}
}

// TestRegisterSensorsAgainChangesNothing: pairing is idempotent, so a
// retried or repeated pairing does not rewrite the record.
func TestRegisterSensorsAgainChangesNothing(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	if _, err := s.RegisterSensors(carrier, at(24*60), []string{"L1", "L2"}); err != nil {
		t.Fatal(err)
	}
	before := *s
	added, err := s.RegisterSensors(carrier, at(25*60), []string{"L2", "L1"})
	if err != nil || added != nil {
		t.Fatalf("again: added %v, err %v; want nothing", added, err)
	}
	if !reflect.DeepEqual(before, *s) {
		t.Fatal("registering the same sensors again changed the record")
	}
	added, err = s.RegisterSensors(carrier, at(25*60), []string{"L1", "L3"})
	if err != nil || !slices.Equal(added, []string{"L3"}) {
		t.Fatalf("L1 and L3: added %v, err %v; want only L3", added, err)
	}
}

// TestRegisterSensorsRefusals: each refusal names the problem and leaves the
// shipment as it was.
func TestRegisterSensorsRefusals(t *testing.T) {
	full := make([]string, MaxSensors)
	for i := range full {
		full[i] = "S" + strconv.Itoa(i)
	}
	cases := []struct {
		name    string
		status  Status
		caller  Caller
		sensors []string
		want    Code
	}{
		{"none", StatusInTransit, carrier, nil, Invalid},
		{"twice", StatusInTransit, carrier, []string{"L1", "L1"}, Invalid},
		{"bad id", StatusInTransit, carrier, []string{"L 1"}, Invalid},
		{"too many", StatusInTransit, carrier, append(slices.Clone(full), "one-more"), Invalid},
		{"not the custodian", StatusInTransit, exporter, []string{"L1"}, Forbidden},
		{"a sensor may not pair others", StatusInTransit, Caller{MSPID: carrierMSP, Role: RoleSensor}, []string{"L1"}, Forbidden},
		{"delivered", StatusDelivered, buyer, []string{"L1"}, Conflict},
		{"cancelled", StatusCancelled, exporter, []string{"L1"}, Conflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := inStatus(t, c.status)
			before := *s
			_, err := s.RegisterSensors(c.caller, at(24*60), c.sensors)
			wantCode(t, err, c.want)
			if !reflect.DeepEqual(before, *s) {
				t.Fatal("a refused pairing changed the shipment")
			}
		})
	}
	t.Run("beyond the limit with some registered", func(t *testing.T) {
		s := inStatus(t, StatusInTransit)
		if _, err := s.RegisterSensors(carrier, at(24*60), full[:MaxSensors-1]); err != nil {
			t.Fatal(err)
		}
		before := *s
		_, err := s.RegisterSensors(carrier, at(24*60), []string{"X1", "X2"})
		wantCode(t, err, Invalid)
		if !reflect.DeepEqual(before, *s) {
			t.Fatal("a refused pairing changed the shipment")
		}
	})
}
