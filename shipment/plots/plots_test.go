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

// TestEllipsoidArea pins the area against the ellipsoid's own arc lengths:
// a 1-degree cell at the equator is 110574.3 m (meridian) by 111319.5 m
// (equator) to first order, 12308.8 km².
func TestEllipsoidArea(t *testing.T) {
	cell := Ring{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}
	got := ringAreaM2(cell) / 1e6
	if math.Abs(got-12308.8)/12308.8 > 5e-4 {
		t.Fatalf("1-degree equatorial cell: %.1f km², want about 12308.8", got)
	}
	// Between 60 and 61 N: meridian degree M(60.5) = 111.42 km, parallel
	// degree N(60.5)cos(60.5) = 54.96 km, 6123 km².
	hi := ringAreaM2(Ring{{0, 60}, {1, 60}, {1, 61}, {0, 61}, {0, 60}}) / 1e6
	if math.Abs(hi-6123)/6123 > 5e-4 {
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
