package plots

import (
	"math"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// CutOff is the regulation's cut-off date (Article 2(13)): the commodity
// must have been produced on land not deforested after it, and a plot whose
// production period begins on or before it is refused.
var CutOff = time.Date(2020, 12, 31, 0, 0, 0, 0, time.UTC)

// Commodities are the relevant commodities of Article 1 and Annex I.
var Commodities = []string{"cattle", "cocoa", "coffee", "oil_palm", "rubber", "soya", "wood"}

func checkProperties(e *errs, at string, p *Properties) {
	if p.ProducerName == "" {
		e.add("%s.producerName: required", at)
	}
	if !shipment.ValidCountry(p.Country) {
		e.add("%s.country: %q is not an ISO 3166-1 alpha-2 code", at, p.Country)
	}
	from, errF := time.Parse(time.DateOnly, p.ProductionFrom)
	to, errT := time.Parse(time.DateOnly, p.ProductionTo)
	switch {
	case errF != nil:
		e.add("%s.productionFrom: %q is not a date (YYYY-MM-DD)", at, p.ProductionFrom)
	case errT != nil:
		e.add("%s.productionTo: %q is not a date (YYYY-MM-DD)", at, p.ProductionTo)
	case to.Before(from):
		e.add("%s.productionTo: %s is before productionFrom %s", at, p.ProductionTo, p.ProductionFrom)
	case !from.After(CutOff):
		e.add("%s.productionFrom: %s is not after the EUDR cut-off 2020-12-31", at, p.ProductionFrom)
	}
	if !knownCommodity(p.Commodity) {
		e.add("%s.commodity: %q is not one of %v", at, p.Commodity, Commodities)
	}
	if !validHS(p.HSCode) {
		e.add("%s.hsCode: %q is not a Harmonised System code (4 to 10 digits)", at, p.HSCode)
	}
	if !(p.QuantityKg > 0) || math.IsInf(p.QuantityKg, 0) {
		e.add("%s.quantityKg: must be a positive net mass in kg", at)
	}
	if !(p.AreaHa > 0) || math.IsInf(p.AreaHa, 0) {
		e.add("%s.areaHa: must be a positive area in hectares", at)
	}
}

func knownCommodity(c string) bool {
	for _, k := range Commodities {
		if c == k {
			return true
		}
	}
	return false
}

func validHS(s string) bool {
	if len(s) < 4 || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
