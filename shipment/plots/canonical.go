package plots

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/shiptrace/shiptrace/shipment"
)

// Canonical returns the collection as canonical GeoJSON: keys sorted,
// coordinates with exactly Decimals decimals, rings in RFC 7946 winding,
// features in the order given, no whitespace. Equal plots give equal bytes,
// so the SHA-256 of this form, kept on the public record, lets any member
// check the plots the exporter later shows are the ones attached.
func (c *Collection) Canonical() []byte {
	b := make([]byte, 0, 256*len(c.Features))
	b = append(b, `{"features":[`...)
	for i, f := range c.Features {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"geometry":{"coordinates":`...)
		b = appendGeometry(b, f.Geometry)
		b = append(b, `,"type":`...)
		b = strconv.AppendQuote(b, f.Geometry.Type)
		b = append(b, `},"properties":`...)
		b = appendProperties(b, f.Properties)
		b = append(b, `,"type":"Feature"}`...)
	}
	return append(b, `],"type":"FeatureCollection"}`...)
}

// Hash is the hex SHA-256 of Canonical.
func (c *Collection) Hash() string { return Hash(c.Canonical()) }

// Hash is the hex SHA-256 of canonical bytes.
func Hash(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

func appendPos(b []byte, p Position) []byte {
	b = append(b, '[')
	b = strconv.AppendFloat(b, p[0], 'f', Decimals, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, p[1], 'f', Decimals, 64)
	return append(b, ']')
}

func appendPolygon(b []byte, poly Polygon) []byte {
	b = append(b, '[')
	for i, r := range poly {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, p := range r {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendPos(b, p)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

func appendGeometry(b []byte, g Geometry) []byte {
	switch g.Type {
	case "Point":
		return appendPos(b, g.Point)
	case "Polygon":
		return appendPolygon(b, g.Polygons[0])
	}
	b = append(b, '[')
	for i, poly := range g.Polygons {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPolygon(b, poly)
	}
	return append(b, ']')
}

// appendProperties writes the properties with sorted keys. encoding/json
// writes a struct's fields in declaration order, so canonicalProps lists
// them alphabetically.
func appendProperties(b []byte, p Properties) []byte {
	type canonicalProps struct {
		AreaHa          float64 `json:"areaHa"`
		Commodity       string  `json:"commodity"`
		Country         string  `json:"country"`
		HSCode          string  `json:"hsCode"`
		ProducerName    string  `json:"producerName"`
		ProductionFrom  string  `json:"productionFrom"`
		ProductionPlace string  `json:"productionPlace,omitempty"`
		ProductionTo    string  `json:"productionTo"`
		QuantityKg      float64 `json:"quantityKg"`
	}
	out, _ := json.Marshal(canonicalProps{AreaHa: p.AreaHa, Commodity: p.Commodity, Country: p.Country, HSCode: p.HSCode,
		ProducerName: p.ProducerName, ProductionFrom: p.ProductionFrom, ProductionPlace: p.ProductionPlace,
		ProductionTo: p.ProductionTo, QuantityKg: p.QuantityKg}) // cannot fail: strings and finite numbers
	return append(b, out...)
}

// Summarize returns the public summary of c: hash, count, total area (on
// the ellipsoid for polygons, declared for points, rounded to 1 m²),
// quantity, and sorted countries, commodities and HS codes.
func (c *Collection) Summarize() shipment.PlotsSummary {
	s := shipment.PlotsSummary{SHA256: c.Hash(), Count: len(c.Features)}
	var area, qty float64
	for _, f := range c.Features {
		p := f.Properties
		if f.Geometry.Type == "Point" {
			area += p.AreaHa
		} else {
			area += f.ComputedHa
		}
		qty += p.QuantityKg
		s.Countries = addSorted(s.Countries, p.Country)
		s.Commodities = addSorted(s.Commodities, p.Commodity)
		s.HSCodes = addSorted(s.HSCodes, p.HSCode)
	}
	s.AreaHa = math.Round(area*1e4) / 1e4
	s.QuantityKg = math.Round(qty*1e3) / 1e3
	return s
}

func addSorted(list []string, v string) []string {
	i, found := slices.BinarySearch(list, v)
	if found {
		return list
	}
	return slices.Insert(list, i, v)
}
