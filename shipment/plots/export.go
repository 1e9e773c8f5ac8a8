package plots

import (
	"fmt"
	"strconv"

	"github.com/shiptrace/shiptrace/shipment"
)

// MaxExportBytes is the EU information system's (TRACES) limit on one
// geolocation file.
const MaxExportBytes = 25 << 20

// Export renders the plots as the GeoJSON FeatureCollection the EU
// information system (TRACES) accepts for a due-diligence statement's
// geolocation upload: each feature carries ProducerName, ProducerCountry,
// ProductionPlace and Area (hectares). Equal collections give equal bytes.
// A file over MaxExportBytes is refused with an INVALID error that says to
// split the shipment's plots over several statements.
func (c *Collection) Export() ([]byte, error) {
	b := make([]byte, 0, 200*len(c.Features))
	b = append(b, `{"type":"FeatureCollection","features":[`...)
	for i, f := range c.Features {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature","properties":{"ProducerName":`...)
		b = strconv.AppendQuote(b, f.Properties.ProducerName)
		b = append(b, `,"ProducerCountry":`...)
		b = strconv.AppendQuote(b, f.Properties.Country)
		b = append(b, `,"ProductionPlace":`...)
		b = strconv.AppendQuote(b, f.Properties.ProductionPlace)
		b = append(b, `,"Area":`...)
		b = strconv.AppendFloat(b, f.Properties.AreaHa, 'f', -1, 64)
		b = append(b, `},"geometry":{"type":`...)
		b = strconv.AppendQuote(b, f.Geometry.Type)
		b = append(b, `,"coordinates":`...)
		b = appendGeometry(b, f.Geometry)
		b = append(b, `}}`...)
		if len(b) > MaxExportBytes {
			return nil, tooLarge(len(c.Features))
		}
	}
	b = append(b, `]}`...)
	if len(b) > MaxExportBytes {
		return nil, tooLarge(len(c.Features))
	}
	return b, nil
}

func tooLarge(n int) error {
	return shipment.Errorf(shipment.Invalid, "%s", fmt.Sprintf(
		"plots: the GeoJSON of %d plots exceeds the EU information system's 25 MB limit per file; split the plots over several due-diligence statements (or simplify polygons)", n))
}
