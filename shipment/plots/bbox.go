package plots

// bbox is a country's extent in degrees, with a margin of about 0.5 degree so
// border plots and islands are not refused.
type bbox struct{ minLon, minLat, maxLon, maxLat float64 }

// countryBoxes covers the main producer countries of the EUDR commodities.
// A position outside its country's box is refused, and when the swapped
// [lat, lon] falls inside the error says so: the most common GeoJSON mistake.
// Countries not listed here pass unchecked (the ISO code is still checked);
// a full table would need border polygons, which is a GIS service's job.
var countryBoxes = map[string]bbox{
	"BR": {-74.5, -34.3, -28.5, 5.8},
	"CO": {-82.0, -4.8, -66.3, 13.9},
	"VN": {101.6, 7.8, 110.0, 23.9},
	"ID": {94.5, -11.5, 141.6, 6.6},
	"CI": {-9.1, 3.8, -2.0, 11.3},
	"GH": {-3.8, 4.2, 1.7, 11.7},
	"ET": {32.5, 2.9, 48.5, 15.5},
	"PE": {-81.9, -18.9, -68.1, 0.5},
	"HN": {-89.9, 12.5, -82.6, 17.9},
	"UG": {29.0, -2.0, 35.5, 4.8},
	"MY": {99.1, 0.3, 119.8, 7.9},
	"GT": {-92.8, 13.2, -87.7, 18.4},
	"NI": {-88.2, 10.2, -82.1, 15.6},
	"CM": {7.9, 1.1, 16.7, 13.6},
	"EC": {-92.6, -5.5, -74.7, 2.0},
	"KE": {33.4, -5.2, 42.4, 5.5},
	"TZ": {29.1, -12.2, 40.9, -0.5},
	"NG": {2.2, 3.8, 15.2, 14.4},
}

func (b bbox) has(p Position) bool {
	return p[0] >= b.minLon && p[0] <= b.maxLon && p[1] >= b.minLat && p[1] <= b.maxLat
}

// checkCountry reports a position outside its country's box.
func checkCountry(e *errs, at, country string, p Position) bool {
	b, ok := countryBoxes[country]
	if !ok || b.has(p) {
		return true
	}
	if b.has(Position{p[1], p[0]}) {
		e.add("%s: [%s, %s] lies outside %s but [%s, %s] inside: latitude and longitude swapped? GeoJSON is [longitude, latitude]",
			at, fmtDeg(p[0]), fmtDeg(p[1]), country, fmtDeg(p[1]), fmtDeg(p[0]))
		return false
	}
	e.add("%s: [%s, %s] lies outside %s (country of production)", at, fmtDeg(p[0]), fmtDeg(p[1]), country)
	return false
}
