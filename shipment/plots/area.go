package plots

import (
	"math"

	"github.com/tidwall/geodesic"
)

// ringAreaM2 is the area enclosed by a closed ring, in square metres, on the
// WGS 84 ellipsoid, with each edge a geodesic: Karney's algorithm
// ("Algorithms for geodesics", J. Geodesy 87, 2013), GeographicLib's
// Planimeter, through github.com/tidwall/geodesic, a dependency-free port of
// GeographicLib's C library. Orientation does not matter.
//
// Why a library rather than the twenty lines of an authalic-sphere sum this
// package had before: it is the reference algorithm the regulation's
// guidance and GIS tools (PostGIS geography, QGIS's ellipsoidal measure)
// agree with, accurate to a few square millimetres per plot, and the port
// carries GeographicLib's own test suite. It adds no transitive dependency
// to the chaincode. The area that reaches the ledger is rounded to 1e-4 ha
// (canonical.go), so peers on different CPUs agree on it where
// floating-point fusion differs in the last bit, unless the area lies
// within that bit of a rounding boundary; then their endorsements differ
// and Fabric records nothing, which is safe, if rare and annoying.
func ringAreaM2(r Ring) float64 {
	p := geodesic.WGS84.PolygonInit(false)
	for i := 0; i+1 < len(r); i++ { // the closing position repeats the first
		p.AddPoint(r[i][1], r[i][0])
	}
	var area float64
	p.Compute(false, true, &area, nil)
	return math.Abs(area)
}
