package plots

import "math"

// WGS 84 ellipsoid.
const (
	wgs84A = 6378137.0
	wgs84F = 1 / 298.257223563
)

// The area of a ring is computed on the WGS 84 ellipsoid by mapping it onto
// the authalic (equal-area) sphere, whose authalic latitude preserves area
// exactly, and summing the exact spherical excess of each edge there.
//
// Why not Karney's geodesic polygon area (GeographicLib)? The one
// dependency-free Go port, github.com/tidwall/geodesic, is not on this
// project's module proxy, and the domain module takes no dependency at all
// (the chaincode runs it). The authalic method differs from Karney's only in
// taking each edge as a great circle of the authalic sphere rather than a
// geodesic of the ellipsoid; for a plot's edges (metres to a few kilometres)
// that moves the area by far less than 1e-6 of itself, well inside any
// surveyor's figure. The 1-degree cell test pins the result against the
// ellipsoid's arc lengths.
var (
	wgs84E2 = wgs84F * (2 - wgs84F)
	wgs84E  = math.Sqrt(wgs84E2)
	qPole   = authalicQ(1)
	// authalicR2 is the square of the authalic radius (about 6371007.2 m).
	authalicR2 = wgs84A * wgs84A * qPole / 2
)

// authalicQ is q(phi) of Snyder (3-12) as a function of sin(phi).
func authalicQ(sinPhi float64) float64 {
	es := wgs84E * sinPhi
	return (1 - wgs84E2) * (sinPhi/(1-es*es) - 1/(2*wgs84E)*math.Log((1-es)/(1+es)))
}

// authalicLat returns the authalic latitude, in radians, of geodetic
// latitude lat in degrees.
func authalicLat(lat float64) float64 {
	return math.Asin(authalicQ(math.Sin(lat*math.Pi/180)) / qPole)
}

// ringAreaM2 is the area enclosed by a closed ring, in square metres, on the
// WGS 84 ellipsoid. Orientation does not matter.
func ringAreaM2(r Ring) float64 {
	var sum float64
	for i := 0; i+1 < len(r); i++ {
		l1, l2 := r[i][0]*math.Pi/180, r[i+1][0]*math.Pi/180
		t1 := math.Tan(authalicLat(r[i][1]) / 2)
		t2 := math.Tan(authalicLat(r[i+1][1]) / 2)
		// Signed spherical excess of the triangle (pole, p1, p2).
		sum += 2 * math.Atan2(math.Tan((l2-l1)/2)*(t1+t2), 1+t1*t2)
	}
	return math.Abs(sum) * authalicR2
}
