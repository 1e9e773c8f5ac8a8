package plots

import (
	"bytes"
	"testing"
)

// FuzzDecode: the decoder never panics, and whatever it accepts has a
// canonical form that decodes again to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(collection(validPolygon(), validPoint()))
	f.Add(collection(feature("MultiPolygon", "["+square+"]", props("CI", 4.9))))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,0.000000]},"properties":{}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		canon := c.Canonical()
		again, err := Decode(canon)
		if err != nil {
			t.Fatalf("canonical form refused: %v\n%s", err, canon)
		}
		if !bytes.Equal(again.Canonical(), canon) {
			t.Fatalf("canonical form not stable:\n%s\n%s", canon, again.Canonical())
		}
		if _, err := c.Export(); err != nil {
			t.Fatalf("export: %v", err)
		}
	})
}
