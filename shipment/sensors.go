package shipment

import (
	"fmt"
	"slices"
	"time"
)

// RegisterSensors pairs loggers with the shipment before they upload, as a
// reefer's loggers are paired when the container is stuffed. A batch of a
// sensor the verdict does not list registers it and so rewrites the
// record, which every batch of the shipment reads: the first batches of
// several new loggers, and every batch in flight beside them, conflict
// and are retried one block after another. Sensors registered beforehand
// start uploading on keys of their own, and their first batches commit side
// by side. It returns the sensors it added, in ID order; sensors already
// registered are left as they are, so pairing again is harmless, and a call
// that adds nothing does not change the record.
func (s *Shipment) RegisterSensors(c Caller, at time.Time, sensors []string) ([]string, error) {
	if err := s.begin(c, OpRegisterSensors, at); err != nil {
		return nil, err
	}
	if err := ValidateSensorIDs(sensors); err != nil {
		return nil, err
	}
	if !s.StatusAllows(OpRegisterSensors) {
		return nil, s.conflictf(OpRegisterSensors, "status is %s; readings are closed", s.Status)
	}
	v := s.ColdChainVerdict
	var added []string
	for _, id := range sensors {
		if !v.has(id) {
			added = append(added, id)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	if len(v.Sensors)+len(added) > MaxSensors {
		return nil, Errorf(Invalid, "sensors: a shipment has at most %d sensors; %d are registered, %d more asked",
			MaxSensors, len(v.Sensors), len(added))
	}
	slices.Sort(added)
	v.Sensors = append(slices.Clone(v.Sensors), added...)
	slices.Sort(v.Sensors)
	s.ColdChainVerdict = v
	s.stamp(c, at)
	return added, nil
}

// ValidateSensorIDs checks a list of sensor IDs to register: 1 to
// MaxSensors well-formed IDs, each once.
func ValidateSensorIDs(sensors []string) error {
	var p problems
	if len(sensors) == 0 || len(sensors) > MaxSensors {
		p.addf("sensors", "must hold 1 to %d sensor IDs", MaxSensors)
		return p.err()
	}
	seen := make(map[string]bool, len(sensors))
	for i, id := range sensors {
		f := fmt.Sprintf("sensors[%d]", i)
		switch {
		case !sensorPattern.MatchString(id):
			p.addf(f, "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
		case seen[id]:
			p.addf(f, "%q is listed twice", id)
		}
		seen[id] = true
	}
	return p.err()
}

// DecodeSensorIDs parses a list of sensor IDs strictly and checks it.
func DecodeSensorIDs(data []byte) ([]string, error) {
	var sensors []string
	if err := decodeStrict("sensors", data, &sensors); err != nil {
		return nil, err
	}
	return sensors, ValidateSensorIDs(sensors)
}
