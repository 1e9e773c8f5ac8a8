package notifier

import "encoding/binary"

// Draw is a stable pseudo-random number for parts (e.g. a phone reference
// and an event type), keyed like PhoneRef: the same parts always give the
// same draw, and without the key nobody can predict or steer it. A/B
// variants are assigned with it, so a recipient stays in one variant.
func (k RefKey) Draw(parts ...string) uint64 {
	s := "draw"
	for _, p := range parts {
		s += "\x00" + p
	}
	return binary.BigEndian.Uint64(k.sum(s)[:8])
}
