package plots

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Position is [longitude, latitude] in WGS 84 degrees (RFC 7946 3.1.1),
// rounded to Decimals places.
type Position [2]float64

// Ring is a closed linear ring: its first and last positions are equal.
type Ring []Position

// Polygon is an exterior ring followed by holes.
type Polygon []Ring

// Geometry is a plot's Point, Polygon or MultiPolygon. Point is set for a
// Point; Polygons holds one polygon for a Polygon and several for a
// MultiPolygon.
type Geometry struct {
	Type     string
	Point    Position
	Polygons []Polygon
}

// Feature is one validated plot.
type Feature struct {
	Geometry   Geometry
	Properties Properties
	// ComputedHa is the area on the WGS 84 ellipsoid of a polygon plot (0
	// for a point).
	ComputedHa float64
}

// Collection is a validated, normalised set of plots.
type Collection struct {
	Features []Feature
}

// Decimals is the fixed precision of the canonical form. Input must carry at
// least MinDecimals; more is rounded to Decimals before any check, so what
// is validated is exactly what is hashed.
const Decimals = 6

// PointMaxHa is the largest plot a single point may describe (Article 2(28)).
const PointMaxHa = 4.0

// AreaTolerance is how far a polygon's declared area may be from its area
// computed on the ellipsoid, as a fraction of the computed area (with a
// floor of AreaToleranceMinHa for very small plots, where a surveyor's
// rounding of the declared figure is most of the difference).
const (
	AreaTolerance      = 0.10
	AreaToleranceMinHa = 0.05
)

func decodeGeometry(e *errs, at string, g *rawGeometry) (Geometry, bool) {
	n := len(e.list) + e.more
	out := Geometry{Type: g.Type}
	var v any
	if err := decodeStrict(g.Coordinates, &v); err != nil || len(g.Coordinates) == 0 {
		e.add("%s.coordinates: required array of positions", at)
		return out, false
	}
	switch g.Type {
	case "Point":
		p, ok := position(e, at+".coordinates", v)
		out.Point = p
		return out, ok && len(e.list)+e.more == n
	case "Polygon":
		poly, ok := polygon(e, at+".coordinates", v)
		out.Polygons = []Polygon{poly}
		return out, ok && len(e.list)+e.more == n
	case "MultiPolygon":
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 {
			e.add("%s.coordinates: MultiPolygon needs an array of polygons", at)
			return out, false
		}
		for i, pv := range arr {
			poly, ok := polygon(e, fmt.Sprintf("%s.coordinates[%d]", at, i), pv)
			if ok {
				out.Polygons = append(out.Polygons, poly)
			}
		}
		return out, len(e.list)+e.more == n
	default:
		e.add("%s.type: %q; a plot is a Point (up to 4 ha), a Polygon or a MultiPolygon", at, g.Type)
		return out, false
	}
}

func polygon(e *errs, at string, v any) (Polygon, bool) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		e.add("%s: a polygon is an array of linear rings", at)
		return nil, false
	}
	var poly Polygon
	good := true
	for i, rv := range arr {
		rat := fmt.Sprintf("%s[%d]", at, i)
		pts, ok := rv.([]any)
		if !ok {
			e.add("%s: a linear ring is an array of positions", rat)
			good = false
			continue
		}
		if len(pts) > MaxRingPositions {
			e.add("%s: %d positions, at most %d per ring", rat, len(pts), MaxRingPositions)
			good = false
			continue
		}
		ring := make(Ring, 0, len(pts))
		for j, pv := range pts {
			p, ok := position(e, fmt.Sprintf("%s[%d]", rat, j), pv)
			if !ok {
				good = false
				continue
			}
			ring = append(ring, p)
		}
		poly = append(poly, ring)
	}
	return poly, good
}

// position reads [lon, lat] (an optional third value, altitude, is refused:
// TRACES takes two dimensions).
func position(e *errs, at string, v any) (Position, bool) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		e.add("%s: a position is [longitude, latitude]", at)
		return Position{}, false
	}
	var p Position
	for k, nv := range arr {
		num, ok := nv.(json.Number)
		if !ok {
			e.add("%s: a position is two numbers [longitude, latitude]", at)
			return p, false
		}
		s := num.String()
		if strings.ContainsAny(s, "eE") {
			e.add("%s: write %s in decimal notation with at least %d decimals", at, s, MinDecimals)
			return p, false
		}
		dot := strings.IndexByte(s, '.')
		if dot < 0 || len(s)-dot-1 < MinDecimals {
			e.add("%s: %s has fewer than %d decimal places", at, s, MinDecimals)
			return p, false
		}
		f, err := num.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			e.add("%s: %s is not a number", at, s)
			return p, false
		}
		p[k] = round(f)
	}
	lon, lat := p[0], p[1]
	if lon < -180 || lon > 180 || lat < -90 || lat > 90 {
		hint := ""
		if math.Abs(lat) > 90 && math.Abs(lon) <= 90 {
			hint = " (latitude and longitude swapped? GeoJSON is [longitude, latitude])"
		}
		e.add("%s: [%s, %s] is out of range: longitude -180..180, latitude -90..90%s", at, fmtDeg(lon), fmtDeg(lat), hint)
		return p, false
	}
	return p, true
}

func round(f float64) float64 {
	const scale = 1e6 // 10^Decimals
	r := math.Round(f*scale) / scale
	if r == 0 {
		return 0 // no negative zero in the canonical form
	}
	return r
}

func fmtDeg(f float64) string { return fmt.Sprintf("%.*f", Decimals, f) }

// checkGeometry applies the geometric rules to a decoded feature and
// normalises it: consecutive duplicate positions are dropped and rings are
// turned to RFC 7946 winding (exterior counter-clockwise, holes clockwise).
//
// Wrong winding is normalised, not refused: RFC 7946 3.1.6 says parsers
// SHOULD NOT reject polygons that do not follow the right-hand rule, GIS
// tools export either order, and the orientation carries no meaning for a
// plot. The canonical form (and so the hash) is the normalised one.
func checkGeometry(e *errs, at string, f *Feature) {
	p := &f.Properties
	g := &f.Geometry
	if g.Type == "Point" {
		checkCountry(e, at+".geometry.coordinates", p.Country, g.Point)
		if p.AreaHa > PointMaxHa {
			e.add("%s.geometry: a Point describes a plot of at most %g ha; this plot declares %g ha, so give its Polygon", at, PointMaxHa, p.AreaHa)
		}
		return
	}
	n := len(e.list) + e.more
	var total float64
	for pi, poly := range g.Polygons {
		pat := fmt.Sprintf("%s.geometry.coordinates", at)
		if g.Type == "MultiPolygon" {
			pat = fmt.Sprintf("%s[%d]", pat, pi)
		}
		for ri := range poly {
			rat := fmt.Sprintf("%s[%d]", pat, ri)
			r := dedupe(poly[ri])
			if !checkRing(e, rat, r) {
				continue
			}
			ccw := signedArea(r) > 0
			if (ri == 0) != ccw {
				reverse(r)
			}
			poly[ri] = r
			for _, q := range r {
				if !checkCountry(e, rat, p.Country, q) {
					break
				}
			}
		}
		if len(e.list)+e.more != n {
			continue
		}
		for ri := 1; ri < len(poly); ri++ {
			if !inside(poly[0], poly[ri][0]) {
				e.add("%s[%d]: hole lies outside the exterior ring", pat, ri)
			}
			for rj := 0; rj < ri; rj++ {
				if ringsCross(poly[rj], poly[ri]) {
					e.add("%s: rings %d and %d intersect", pat, rj, ri)
				}
			}
		}
		a := ringAreaM2(poly[0])
		for _, h := range poly[1:] {
			a -= ringAreaM2(h)
		}
		total += a
	}
	if len(e.list)+e.more != n {
		return
	}
	if i, j, ok := overlapping(g.Polygons); ok {
		e.add("%s.geometry.coordinates: polygons %d and %d overlap or touch; the parts of a MultiPolygon must be disjoint (ground they share would count twice in its area)", at, i, j)
		return
	}
	f.ComputedHa = total / 10000
	tol := math.Max(AreaTolerance*f.ComputedHa, AreaToleranceMinHa)
	if math.Abs(f.ComputedHa-p.AreaHa) > tol {
		e.add("%s.properties.areaHa: declared %g ha, but the geometry measures %.4f ha on the WGS 84 ellipsoid (tolerance %.4f ha)", at, p.AreaHa, f.ComputedHa, tol)
	}
}

// checkRing applies RFC 7946 3.1.6 and the regulation's polygon rule: closed,
// at least four distinct positions, not all on one line, no
// self-intersection.
func checkRing(e *errs, at string, r Ring) bool {
	if len(r) < 2 || r[0] != r[len(r)-1] {
		e.add("%s: ring not closed (the last position must repeat the first)", at)
		return false
	}
	distinct := map[Position]bool{}
	for _, p := range r[:len(r)-1] {
		distinct[p] = true
	}
	if len(distinct) < 4 {
		e.add("%s: ring has %d distinct positions, a plot polygon needs at least 4", at, len(distinct))
		return false
	}
	for i := 0; i+1 < len(r); i++ {
		if math.Abs(r[i+1][0]-r[i][0]) > 180 {
			e.add("%s: edge %d crosses the antimeridian (longitude %s to %s); split the plot there into a MultiPolygon (RFC 7946 3.1.9)", at, i, fmtDeg(r[i][0]), fmtDeg(r[i+1][0]))
			return false
		}
	}
	if collinear(r) {
		e.add("%s: all positions lie on one line", at)
		return false
	}
	if i, j, ok := selfIntersection(r); ok {
		e.add("%s: ring intersects itself (edges %d and %d)", at, i, j)
		return false
	}
	if signedArea(r) == 0 {
		e.add("%s: ring encloses no area", at)
		return false
	}
	return true
}

// dedupe drops consecutive repeated positions (which rounding can create).
func dedupe(r Ring) Ring {
	out := r[:0:0]
	for i, p := range r {
		if i > 0 && p == r[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

func reverse(r Ring) {
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
}

// signedArea is the planar shoelace area in square degrees: positive for a
// counter-clockwise ring. Plots are small, so the sign in degrees is the
// sign on the ellipsoid.
func signedArea(r Ring) float64 {
	var s float64
	for i := 0; i+1 < len(r); i++ {
		s += (r[i][0] - r[0][0]) * (r[i+1][1] - r[0][1])
		s -= (r[i+1][0] - r[0][0]) * (r[i][1] - r[0][1])
	}
	return s / 2
}

func collinear(r Ring) bool {
	a := r[0]
	for i := 1; i+1 < len(r); i++ {
		if r[i] == a {
			continue
		}
		for j := i + 1; j+1 < len(r); j++ {
			if orient(a, r[i], r[j]) != 0 {
				return false
			}
		}
		return true
	}
	return true
}

// orient is the sign of the cross product (b-a) x (c-a).
func orient(a, b, c Position) int {
	v := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func onSegment(a, b, p Position) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

// segmentsIntersect reports whether segments ab and cd share any point.
func segmentsIntersect(a, b, c, d Position) bool {
	o1, o2, o3, o4 := orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
	if o1 != o2 && o3 != o4 {
		return true
	}
	return (o1 == 0 && onSegment(a, b, c)) || (o2 == 0 && onSegment(a, b, d)) ||
		(o3 == 0 && onSegment(c, d, a)) || (o4 == 0 && onSegment(c, d, b))
}

// selfIntersection finds two edges of a closed ring that meet other than at
// the vertex adjacent edges share, or adjacent edges that fold back on each
// other. It is quadratic; MaxRingPositions bounds it.
func selfIntersection(r Ring) (int, int, bool) {
	n := len(r) - 1 // edges
	for i := 0; i < n; i++ {
		a, b := r[i], r[i+1]
		// Adjacent edge folding back along itself (a spike).
		c := r[(i+2)%len(r)]
		if i+2 > n {
			c = r[1]
		}
		if orient(a, b, c) == 0 && (b[0]-a[0])*(c[0]-b[0])+(b[1]-a[1])*(c[1]-b[1]) < 0 {
			return i, (i + 1) % n, true
		}
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue // first and last edges share r[0]
			}
			if segmentsIntersect(a, b, r[j], r[j+1]) {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

func ringsCross(r, s Ring) bool {
	for i := 0; i+1 < len(r); i++ {
		for j := 0; j+1 < len(s); j++ {
			if segmentsIntersect(r[i], r[i+1], s[j], s[j+1]) {
				return true
			}
		}
	}
	return false
}

// inside is the even-odd point-in-ring test.
func inside(r Ring, p Position) bool {
	in := false
	for i, j := 0, len(r)-2; i < len(r)-1; j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

// boundariesMeet tells whether p's and q's outer rings cross or touch, or
// either's outer ring crosses or touches a hole of the other. A part that
// starts in the other's lake and reaches its ground meets the lake's shore:
// comparing outer rings and one vertex alone missed that.
func boundariesMeet(p, q Polygon) bool {
	if ringsCross(p[0], q[0]) {
		return true
	}
	for _, h := range q[1:] {
		if ringsCross(p[0], h) {
			return true
		}
	}
	for _, h := range p[1:] {
		if ringsCross(q[0], h) {
			return true
		}
	}
	return false
}

// overlapping finds two polygons of a MultiPolygon that overlap or touch:
// their boundaries meet, or one lies inside the other (and not inside one
// of its holes: an island in a lake is allowed). A plot's area is the sum of
// its parts, so an overlap would count ground twice. This is stricter than
// the OGC Simple Features rule RFC 7946 points to, which lets parts touch at
// single points; a rule that never misses a shared edge or an identical
// duplicate part is worth that, and two parts touching at a corner are rare
// enough in farm surveys to be drawn a little apart. Bounding boxes skip
// most pairs; MaxRingPositions bounds the rest.
func overlapping(polys []Polygon) (int, int, bool) {
	boxes := make([][4]float64, len(polys))
	for i, p := range polys {
		b := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
		for _, q := range p[0] {
			b[0], b[1] = math.Min(b[0], q[0]), math.Min(b[1], q[1])
			b[2], b[3] = math.Max(b[2], q[0]), math.Max(b[3], q[1])
		}
		boxes[i] = b
	}
	within := func(outer Polygon, p Position) bool {
		if !inside(outer[0], p) {
			return false
		}
		for _, h := range outer[1:] {
			if inside(h, p) {
				return false
			}
		}
		return true
	}
	for i := range polys {
		for j := i + 1; j < len(polys); j++ {
			a, b := boxes[i], boxes[j]
			if a[0] > b[2] || b[0] > a[2] || a[1] > b[3] || b[1] > a[3] {
				continue
			}
			if boundariesMeet(polys[i], polys[j]) || within(polys[i], polys[j][0][0]) || within(polys[j], polys[i][0][0]) {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}
