package contract

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// RegisterSensors pairs loggers with a shipment before they upload (see
// shipment.RegisterSensors): it lists them in the record's verdict and
// creates each one's summary key, empty, under the shipment's key-level
// policy, exactly as the first batch of an unpaired logger does. The
// loggers' first batches then write only keys of their own and commit side
// by side instead of meeting on the record. Sensors already registered are
// left alone; when none is new nothing is written and no event is emitted.
// The receipt's Registered lists the ones it added.
func (c *Contract) RegisterSensors(ctx contractapi.TransactionContextInterface, id string, sensorsJSON string) (string, error) {
	t, err := c.begin(ctx, shipment.OpRegisterSensors)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpRegisterSensors); err != nil {
		return "", err
	}
	sensors, err := shipment.DecodeSensorIDs([]byte(sensorsJSON))
	if err != nil {
		return "", err
	}
	old := *s
	added, err := s.RegisterSensors(t.caller, t.at, sensors)
	if err != nil {
		return "", err
	}
	if len(added) == 0 {
		return t.receipt(s).encode()
	}
	ev := shipment.NewEvent(shipment.EventSensorsRegistered, s, t.at)
	ev.Sensors = added
	if _, err := t.save(&old, s, ev); err != nil {
		return "", err
	}
	for _, sensor := range added {
		// A key someone wrote before the sensor was registered is replaced:
		// a summary counts only from its registration (readings.go).
		if err := t.putSensor(s, storedSensor{SensorSummary: shipment.SensorSummary{ID: sensor}}, true); err != nil {
			return "", err
		}
	}
	r := t.receipt(s)
	r.Registered = added
	return r.encode()
}
