package plots

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/shipment"
)

// A ~4.9 ha square coffee plot in Côte d'Ivoire, counter-clockwise, and a
// 1.5 ha point plot in Brazil.
const square = `[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]]]`

func props(country string, areaHa float64) string {
	return fmt.Sprintf(`{"producerName":"Kouassi Yao","productionPlace":"Daloa","country":%q,"productionFrom":"2025-10-01","productionTo":"2026-02-28","commodity":"coffee","hsCode":"090111","quantityKg":1200.5,"areaHa":%g}`, country, areaHa)
}

func feature(geomType, coords, properties string) string {
	return fmt.Sprintf(`{"type":"Feature","geometry":{"type":%q,"coordinates":%s},"properties":%s}`, geomType, coords, properties)
}

func collection(features ...string) []byte {
	return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`)
}

func validPolygon() string { return feature("Polygon", square, props("CI", 4.9)) }
func validPoint() string {
	return feature("Point", `[-47.123456,-15.654321]`, props("BR", 1.5))
}

func TestValidPlots(t *testing.T) {
	c, err := Decode(collection(validPolygon(), validPoint()))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Summarize()
	if s.Count != 2 || !slicesEq(s.Countries, []string{"BR", "CI"}) || !slicesEq(s.HSCodes, []string{"090111"}) {
		t.Fatalf("summary %+v", s)
	}
	if c.Features[0].ComputedHa < 4.85 || c.Features[0].ComputedHa > 4.95 {
		t.Fatalf("square measures %.4f ha, want about 4.9", c.Features[0].ComputedHa)
	}
	if math.Abs(s.AreaHa-(c.Features[0].ComputedHa+1.5)) > 1e-4 || s.QuantityKg != 2401 {
		t.Fatalf("summary area %v qty %v", s.AreaHa, s.QuantityKg)
	}
	if len(s.SHA256) != 64 {
		t.Fatalf("hash %q", s.SHA256)
	}
}

func slicesEq(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestRules: every rule refuses its bad input with a feature-numbered error.
func TestRules(t *testing.T) {
	poly := func(coords string, area float64) string { return feature("Polygon", coords, props("CI", area)) }
	p := func(mod func(string) string) string { return feature("Polygon", square, mod(props("CI", 4.9))) }
	cases := []struct {
		name, feat, want string
	}{
		{"five decimals", feature("Point", `[-47.12345,-15.654321]`, props("BR", 1)), "features[1].geometry.coordinates: -47.12345 has fewer than 6 decimal places"},
		{"integer", feature("Point", `[-47,-15.654321]`, props("BR", 1)), "fewer than 6 decimal places"},
		{"exponent", feature("Point", `[-4.7123456e1,-15.654321]`, props("BR", 1)), "decimal notation"},
		{"three values", feature("Point", `[-47.123456,-15.654321,100.000000]`, props("BR", 1)), "a position is [longitude, latitude]"},
		{"lon out of range", feature("Point", `[-181.000000,-15.654321]`, props("BR", 1)), "out of range"},
		{"lat out of range swapped", feature("Point", `[-15.654321,-147.123456]`, props("BR", 1)), "swapped?"},
		{"swapped by country box", feature("Point", `[6.801000,-5.499000]`, props("CI", 1)), "features[1].geometry.coordinates: [6.801000, -5.499000] lies outside CI but [-5.499000, 6.801000] inside: latitude and longitude swapped?"},
		{"outside country", feature("Point", `[2.350000,48.850000]`, props("CI", 1)), "lies outside CI (country of production)"},
		{"point over 4 ha", feature("Point", `[-47.123456,-15.654321]`, props("BR", 4.5)), "features[1].geometry: a Point describes a plot of at most 4 ha; this plot declares 4.5 ha"},
		{"not closed", poly(`[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800100]]]`, 4.9), "features[1].geometry.coordinates[0]: ring not closed"},
		{"three distinct", poly(`[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.800000]]]`, 2.45), "ring has 3 distinct positions, a plot polygon needs at least 4"},
		{"collinear", poly(`[[[-5.500000,6.800000],[-5.499000,6.800000],[-5.498000,6.800000],[-5.497000,6.800000],[-5.500000,6.800000]]]`, 1), "all positions lie on one line"},
		{"bow tie", poly(`[[[-5.500000,6.800000],[-5.498000,6.802000],[-5.498000,6.800000],[-5.500000,6.802000],[-5.500000,6.800000]]]`, 2.45), "ring intersects itself"},
		{"spike", poly(`[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.497000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]]]`, 4.9), "ring intersects itself"},
		{"area mismatch", poly(square, 2.0), "features[1].properties.areaHa: declared 2 ha, but the geometry measures 4.88"},
		{"hole outside", poly(`[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]],[[-5.400000,6.700000],[-5.400000,6.700100],[-5.399900,6.700100],[-5.399900,6.700000],[-5.400000,6.700000]]]`, 4.9), "hole lies outside"},
		{"antimeridian", feature("Polygon", `[[[179.999000,-16.800000],[-179.999000,-16.800000],[-179.999000,-16.798000],[179.999000,-16.798000],[179.999000,-16.800000]]]`, props("FJ", 4.9)), "features[1].geometry.coordinates[0]: edge 0 crosses the antimeridian (longitude 179.999000 to -179.999000); split the plot there into a MultiPolygon (RFC 7946 3.1.9)"},
		{"parts overlap", feature("MultiPolygon", "["+square+`,[[[-5.499000,6.801000],[-5.497000,6.801000],[-5.497000,6.803000],[-5.499000,6.803000],[-5.499000,6.801000]]]]`, props("CI", 9.8)), "features[1].geometry.coordinates: polygons 0 and 1 overlap or touch"},
		{"part inside part", feature("MultiPolygon", "["+square+`,[[[-5.499500,6.800500],[-5.498500,6.800500],[-5.498500,6.801500],[-5.499500,6.801500],[-5.499500,6.800500]]]]`, props("CI", 6.1)), "polygons 0 and 1 overlap or touch"},
		{"part repeated", feature("MultiPolygon", "["+square+","+square+"]", props("CI", 9.8)), "polygons 0 and 1 overlap or touch"},
		{"line string", feature("LineString", `[[-5.500000,6.800000],[-5.498000,6.800000]]`, props("CI", 1)), "a plot is a Point (up to 4 ha), a Polygon or a MultiPolygon"},
		{"before cut-off", p(func(s string) string { return strings.Replace(s, "2025-10-01", "2020-12-31", 1) }), "features[1].properties.productionFrom: 2020-12-31 is not after the EUDR cut-off 2020-12-31"},
		{"period reversed", p(func(s string) string { return strings.Replace(s, "2026-02-28", "2025-01-01", 1) }), "productionTo: 2025-01-01 is before productionFrom"},
		{"bad date", p(func(s string) string { return strings.Replace(s, "2026-02-28", "28/02/2026", 1) }), "is not a date"},
		{"country", p(func(s string) string { return strings.Replace(s, `"CI"`, `"XX"`, 1) }), `country: "XX" is not an ISO 3166-1 alpha-2 code`},
		{"commodity", p(func(s string) string { return strings.Replace(s, `"coffee"`, `"tea"`, 1) }), `commodity: "tea" is not one of`},
		{"hs code", p(func(s string) string { return strings.Replace(s, `"090111"`, `"09.01"`, 1) }), `hsCode: "09.01"`},
		{"quantity", p(func(s string) string { return strings.Replace(s, `1200.5`, `0`, 1) }), "quantityKg: must be a positive"},
		{"producer", p(func(s string) string { return strings.Replace(s, `"Kouassi Yao"`, `""`, 1) }), "producerName: required"},
		{"unknown property", p(func(s string) string { return strings.Replace(s, `{`, `{"farmer":"x",`, 1) }), `unknown field "farmer"`},
		{"no geometry", `{"type":"Feature","geometry":null,"properties":` + props("CI", 1) + `}`, "features[1].geometry: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The bad plot is the second feature: errors must name it.
			_, err := Decode(collection(validPolygon(), tc.feat))
			if err == nil {
				t.Fatal("accepted")
			}
			if shipment.ErrorCode(err) != shipment.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want INVALID containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "features[0]") {
				t.Fatalf("the valid feature was blamed: %v", err)
			}
		})
	}
}

func TestCollectionShape(t *testing.T) {
	for name, in := range map[string]string{
		"empty":    `{"type":"FeatureCollection","features":[]}`,
		"feature":  `{"type":"Feature"}`,
		"trailing": `{"type":"FeatureCollection","features":[` + validPoint() + `]} {}`,
		"not json": `{"type":`,
	} {
		if _, err := Decode([]byte(in)); shipment.ErrorCode(err) != shipment.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestWindingNormalised: a clockwise exterior is accepted and turned
// counter-clockwise, so both orders hash alike.
func TestWindingNormalised(t *testing.T) {
	cw := `[[[-5.500000,6.800000],[-5.500000,6.802000],[-5.498000,6.802000],[-5.498000,6.800000],[-5.500000,6.800000]]]`
	a, err := Decode(collection(feature("Polygon", square, props("CI", 4.9))))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(collection(feature("Polygon", cw, props("CI", 4.9))))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("clockwise and counter-clockwise differ:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	if signedArea(b.Features[0].Geometry.Polygons[0][0]) <= 0 {
		t.Fatal("exterior not counter-clockwise")
	}
	// A hole is turned clockwise.
	holed := `[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]],[[-5.499500,6.800500],[-5.499000,6.800500],[-5.499000,6.801000],[-5.499500,6.801000],[-5.499500,6.800500]]]`
	h, err := Decode(collection(feature("Polygon", holed, props("CI", 4.6))))
	if err != nil {
		t.Fatal(err)
	}
	if signedArea(h.Features[0].Geometry.Polygons[0][1]) >= 0 {
		t.Fatal("hole not clockwise")
	}
	if d := c0(a) - c0(h); d < 0.29 || d > 0.32 {
		t.Fatalf("hole removes %.4f ha, want about 0.31", d)
	}
}

func c0(c *Collection) float64 { return c.Features[0].ComputedHa }

// TestCanonical: key order, whitespace and extra decimals do not change the
// canonical form; a changed plot does.
func TestCanonical(t *testing.T) {
	a, err := Decode(collection(validPolygon(), validPoint()))
	if err != nil {
		t.Fatal(err)
	}
	shuffled := []byte(`{ "features" : [ {"properties":` + props("CI", 4.9) + `,"geometry":{"coordinates":[[[-5.5000000001,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]]],"type":"Polygon"},"type":"Feature"},` + validPoint() + `], "type":"FeatureCollection"}`)
	b, err := Decode(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Canonical(), b.Canonical()) {
		t.Fatalf("canonical differs:\n%s\n%s", a.Canonical(), b.Canonical())
	}
	if !json.Valid(a.Canonical()) || !strings.HasPrefix(string(a.Canonical()), `{"features":[{"geometry":{"coordinates":[[[-5.500000,6.800000],`) {
		t.Fatalf("canonical form %s", a.Canonical())
	}
	again, err := Decode(a.Canonical())
	if err != nil || again.Hash() != a.Hash() {
		t.Fatalf("canonical form does not round-trip: %v", err)
	}
	c, _ := Decode(collection(feature("Point", `[-47.123457,-15.654321]`, props("BR", 1.5)), validPolygon()))
	if c.Hash() == a.Hash() {
		t.Fatal("different plots hash alike")
	}
}

// TestEllipsoidArea pins the area against GeographicLib's own reference
// values (its Planimeter tests, the same in every port: C, Java, Python,
// JavaScript; positions there are latitude, longitude) and against the
// ellipsoid's arc lengths: a 1-degree cell at the equator is 110574.3 m
// (meridian) by 111319.5 m (equator), 12308.8 km². The tolerance on the
// reference values is GeographicLib's own (1 m²). The authalic-sphere sum
// this replaced missed the 1-degree diamond by 8,383 m² (3.4e-7) and
// agreed with it to 1e-10 on plot-sized rings.
func TestEllipsoidArea(t *testing.T) {
	latLon := func(pts ...[2]float64) Ring {
		var r Ring
		for _, p := range pts {
			r = append(r, Position{p[1], p[0]})
		}
		return append(r, r[0])
	}
	for _, c := range []struct {
		name string
		ring Ring
		m2   float64
	}{
		{"diamond of 1 degree at the equator", latLon([2]float64{0, -1}, [2]float64{-1, 0}, [2]float64{0, 1}, [2]float64{1, 0}), 24619419146.0},
		{"octant from the pole", latLon([2]float64{90, 0}, [2]float64{0, 0}, [2]float64{0, 90}), 63758202715511.0},
		{"ring round the pole at 89 N", latLon([2]float64{89, 0}, [2]float64{89, 90}, [2]float64{89, 180}, [2]float64{89, 270}), 24952305678.0},
		{"the same ring clockwise", latLon([2]float64{89, 270}, [2]float64{89, 180}, [2]float64{89, 90}, [2]float64{89, 0}), 24952305678.0},
	} {
		if got := ringAreaM2(c.ring); math.Abs(got-c.m2) > 1 {
			t.Errorf("%s: %.1f m², GeographicLib gives %.1f", c.name, got, c.m2)
		}
	}
	cell := Ring{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}
	if got := ringAreaM2(cell) / 1e6; math.Abs(got-12308.8)/12308.8 > 5e-4 {
		t.Fatalf("1-degree equatorial cell: %.1f km², want about 12308.8", got)
	}
	// Between 60 and 61 N: meridian degree M(60.5) = 111.42 km, parallel
	// degree N(60.5)cos(60.5) = 54.96 km, 6123 km².
	if hi := ringAreaM2(Ring{{0, 60}, {1, 60}, {1, 61}, {0, 61}, {0, 60}}) / 1e6; math.Abs(hi-6123)/6123 > 5e-4 {
		t.Fatalf("cell at 60N: %.1f km²", hi)
	}
}

func TestExportStableAndLimited(t *testing.T) {
	c, err := Decode(collection(validPolygon(), validPoint()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Export()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Export()
	if !bytes.Equal(a, b) {
		t.Fatal("export not byte-stable")
	}
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(a, &fc); err != nil || len(fc.Features) != 2 {
		t.Fatalf("export %s: %v", a, err)
	}
	pp := fc.Features[0].Properties
	if pp["ProducerName"] != "Kouassi Yao" || pp["ProducerCountry"] != "CI" || pp["ProductionPlace"] != "Daloa" || pp["Area"] != 4.9 {
		t.Fatalf("TRACES properties %v", pp)
	}
	// Over 25 MB: refused, suggesting a split.
	big := Ring{}
	for i := 0; i < MaxRingPositions-1; i++ {
		big = append(big, Position{-5.5 + float64(i)*1e-6, 6.8})
	}
	big = append(big, big[0])
	f := Feature{Geometry: Geometry{Type: "Polygon", Polygons: []Polygon{{big}}}, Properties: c.Features[0].Properties}
	huge := &Collection{}
	for len(huge.Features)*MaxRingPositions*20 < MaxExportBytes+1<<20 {
		huge.Features = append(huge.Features, f)
	}
	_, err = huge.Export()
	if err == nil || !strings.Contains(err.Error(), "25 MB") || !strings.Contains(err.Error(), "split") {
		t.Fatalf("oversized export: %v", err)
	}
}

func TestErrorCap(t *testing.T) {
	var fs []string
	for i := 0; i < 30; i++ {
		fs = append(fs, feature("Point", `[-47.1,-15.654321]`, props("BR", 1)))
	}
	_, err := Decode(collection(fs...))
	if err == nil || !strings.Contains(err.Error(), "features[19]") || strings.Contains(err.Error(), "features[20]") || !strings.Contains(err.Error(), "and 10 more") {
		t.Fatalf("%v", err)
	}
}

// TestMultiPolygonAndUncheckedCountries: a MultiPolygon's area is the sum
// of its polygons; a country without a bounding box in the table passes
// the swap check unchecked (its ISO code is still checked).
func TestMultiPolygonAndUncheckedCountries(t *testing.T) {
	second := `[[[-5.490000,6.800000],[-5.488000,6.800000],[-5.488000,6.802000],[-5.490000,6.802000],[-5.490000,6.800000]]]`
	c, err := Decode(collection(feature("MultiPolygon", "["+square+","+second+"]", props("CI", 9.8))))
	if err != nil {
		t.Fatal(err)
	}
	if a := c0(c); a < 9.7 || a > 9.9 {
		t.Fatalf("multipolygon measures %.4f ha", a)
	}
	// A part on an island in another part's lake is not an overlap.
	lake := `[[[-5.500000,6.800000],[-5.498000,6.800000],[-5.498000,6.802000],[-5.500000,6.802000],[-5.500000,6.800000]],[[-5.499500,6.800500],[-5.499500,6.801500],[-5.498500,6.801500],[-5.498500,6.800500],[-5.499500,6.800500]]]`
	island := `[[[-5.499200,6.800800],[-5.498800,6.800800],[-5.498800,6.801200],[-5.499200,6.801200],[-5.499200,6.800800]]]`
	if _, err := Decode(collection(feature("MultiPolygon", "["+lake+","+island+"]", props("CI", 3.9)))); err != nil {
		t.Fatalf("island in a lake refused: %v", err)
	}
	// A part that starts in the lake and reaches the shore's ground shares
	// ground with the lake's part, in whichever order the parts come.
	shore := `[[[-5.499000,6.800800],[-5.498200,6.800800],[-5.498200,6.801200],[-5.499000,6.801200],[-5.499000,6.800800]]]`
	for _, parts := range []string{lake + "," + shore, shore + "," + lake} {
		_, err := Decode(collection(feature("MultiPolygon", "["+parts+"]", props("CI", 4.0))))
		if err == nil || !strings.Contains(err.Error(), "polygons 0 and 1 overlap or touch") {
			t.Errorf("a part from the lake onto the shore: %v, want polygons 0 and 1 overlap or touch", err)
		}
	}
	// Papua New Guinea has no box: a position far away is not refused.
	if _, err := Decode(collection(feature("Point", `[2.350000,48.850000]`, props("PG", 1)))); err != nil {
		t.Fatalf("unchecked country refused: %v", err)
	}
	msg := ""
	if _, err := Decode(collection(feature("MultiPolygon", "["+square+`,[[[-5.490000,6.800000],[-5.488000,6.800000],[-5.490000,6.800000]]]]`, props("CI", 9.8)))); err != nil {
		msg = err.Error()
	}
	if !strings.Contains(msg, "features[0].geometry.coordinates[1][0]: ring has 2 distinct positions") {
		t.Fatalf("%q", msg)
	}
}
