// Package plots validates the production plots of an EU Deforestation
// Regulation (Regulation (EU) 2023/1115) filing: GeoJSON (RFC 7946) features
// in WGS 84, their area on the ellipsoid, the point-or-polygon rule and the
// 31 December 2020 cut-off, and it produces the canonical form whose SHA-256
// the ledger keeps in public while the plots themselves stay private.
//
// It has no Fabric import and no dependency outside the standard library and
// package shipment, so the chaincode runs exactly the rules the gateway and
// the tests run.
package plots

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shiptrace/shiptrace/shipment"
)

// Limits keep one request's work bounded on every endorsing peer.
const (
	// MaxFeatures is the most plots one request may carry (a cooperative's
	// delivery is thousands).
	MaxFeatures = 50000
	// MaxRingPositions bounds one ring: the self-intersection test is
	// quadratic in it.
	MaxRingPositions = 10000
	// MinDecimals is the precision Article 2(28) of the regulation and the
	// TRACES GeoJSON guidance ask for: six decimal places (about 0.1 m).
	MinDecimals = 6
	// maxErrors is how many problems one refusal lists.
	maxErrors = 20
)

// rawCollection is the input as it arrives: numbers are kept as their JSON
// text so the precision rule can see how many decimals were written.
type rawCollection struct {
	Type     string       `json:"type"`
	Features []rawFeature `json:"features"`
}

type rawFeature struct {
	Type       string          `json:"type"`
	Geometry   *rawGeometry    `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
}

type rawGeometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// Properties are what the exporter declares for one plot. Names are the
// shiptrace API's; the TRACES export renames them (see Export).
type Properties struct {
	// ProducerName is the farmer or cooperative member: commercially
	// sensitive and often personal data, so it never leaves the private
	// collection.
	ProducerName string `json:"producerName"`
	// ProductionPlace is the village or farm name TRACES shows.
	ProductionPlace string `json:"productionPlace,omitempty"`
	// Country is the ISO 3166-1 alpha-2 country of production.
	Country string `json:"country"`
	// ProductionFrom and ProductionTo are the production (harvest) period,
	// dates as YYYY-MM-DD.
	ProductionFrom string `json:"productionFrom"`
	ProductionTo   string `json:"productionTo"`
	// Commodity is one of the relevant commodities of Annex I.
	Commodity string `json:"commodity"`
	// HSCode is the product's Harmonised System code (4 to 10 digits).
	HSCode string `json:"hsCode"`
	// QuantityKg is the net mass from this plot, in kilograms.
	QuantityKg float64 `json:"quantityKg"`
	// AreaHa is the declared plot area in hectares.
	AreaHa float64 `json:"areaHa"`
}

// errs collects feature-numbered problems, up to maxErrors.
type errs struct {
	list []string
	more int
}

func (e *errs) add(format string, args ...any) {
	if len(e.list) >= maxErrors {
		e.more++
		return
	}
	e.list = append(e.list, fmt.Sprintf(format, args...))
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	msg := strings.Join(e.list, "; ")
	if e.more > 0 {
		msg += fmt.Sprintf("; and %d more", e.more)
	}
	return shipment.Errorf(shipment.Invalid, "plots: %s", msg)
}

// decodeStrict decodes b into v refusing unknown fields and trailing data.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// Decode parses and validates a FeatureCollection of plots. On success it
// returns the plots in canonical form (see Canonical); otherwise an INVALID
// *shipment.Error naming each bad feature, e.g.
// "features[3].geometry: ring 0 not closed".
func Decode(b []byte) (*Collection, error) {
	var raw rawCollection
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, shipment.Errorf(shipment.Invalid, "plots: not a GeoJSON FeatureCollection: %v", err)
	}
	if d.More() {
		return nil, shipment.Errorf(shipment.Invalid, "plots: trailing data after the FeatureCollection")
	}
	if raw.Type != "FeatureCollection" {
		return nil, shipment.Errorf(shipment.Invalid, "plots: type must be \"FeatureCollection\", got %q", raw.Type)
	}
	if len(raw.Features) == 0 {
		return nil, shipment.Errorf(shipment.Invalid, "plots: features: at least one plot required")
	}
	if len(raw.Features) > MaxFeatures {
		return nil, shipment.Errorf(shipment.Invalid, "plots: features: %d plots, at most %d per request; split the delivery", len(raw.Features), MaxFeatures)
	}
	var e errs
	c := &Collection{Features: make([]Feature, 0, len(raw.Features))}
	for i, rf := range raw.Features {
		f, ok := decodeFeature(&e, fmt.Sprintf("features[%d]", i), rf)
		if ok {
			c.Features = append(c.Features, f)
		}
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func decodeFeature(e *errs, at string, rf rawFeature) (Feature, bool) {
	n := len(e.list) + e.more
	var f Feature
	if rf.Type != "Feature" {
		e.add("%s.type: must be \"Feature\", got %q", at, rf.Type)
	}
	if len(rf.Properties) == 0 || string(rf.Properties) == "null" {
		e.add("%s.properties: required", at)
	} else if err := decodeStrict(rf.Properties, &f.Properties); err != nil {
		e.add("%s.properties: %v", at, err)
	} else {
		checkProperties(e, at+".properties", &f.Properties)
	}
	if rf.Geometry == nil {
		e.add("%s.geometry: required", at)
		return f, false
	}
	g, ok := decodeGeometry(e, at+".geometry", rf.Geometry)
	if !ok {
		return f, false
	}
	f.Geometry = g
	if len(e.list)+e.more != n {
		return f, false
	}
	checkGeometry(e, at, &f)
	return f, len(e.list)+e.more == n
}
