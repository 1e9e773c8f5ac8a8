package policy

import (
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // the zones must load on hosts without a zoneinfo database

	"github.com/nyaruka/phonenumbers"
)

// primaryZone is the zone chosen for a country whose number prefix
// libphonenumber maps to several zones (a UK mobile: London, Guernsey,
// Isle of Man; a Mexican number in the old 521 form: eight zones): the zone
// of most of its people, when it is among the candidates. Otherwise the
// first candidate in alphabetical order is taken, so the choice is always
// the same for the same number. Geographic numbers usually map to one zone
// (an area code: +55 92 is Manaus, +1 310 Los Angeles) and need no choice.
var primaryZone = map[string]string{
	"AR": "America/Argentina/Buenos_Aires", "AU": "Australia/Sydney", "BR": "America/Sao_Paulo",
	"CA": "America/Toronto", "CL": "America/Santiago", "CN": "Asia/Shanghai", "ES": "Europe/Madrid",
	"GB": "Europe/London", "GG": "Europe/London", "ID": "Asia/Jakarta", "KZ": "Asia/Almaty",
	"MX": "America/Mexico_City", "PT": "Europe/Lisbon", "RU": "Europe/Moscow", "US": "America/New_York",
}

// Zones finds a number's time zone with libphonenumber's prefix-to-zone
// metadata and remembers it per prefix result (zone names, never numbers).
type Zones struct {
	fallback *time.Location
	mu       sync.Mutex
	loaded   map[string]*time.Location
}

// NewZones returns a finder that answers fallback for unknown numbers.
func NewZones(fallback *time.Location) *Zones {
	return &Zones{fallback: fallback, loaded: map[string]*time.Location{}}
}

// ForNumber returns the zone of an E.164 number.
func (z *Zones) ForNumber(e164 string) *time.Location {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return z.fallback
	}
	cands, err := phonenumbers.GetTimezonesForNumber(n)
	if err != nil {
		return z.fallback
	}
	return z.load(Choose(phonenumbers.GetRegionCodeForNumber(n), cands))
}

// Choose picks one zone among libphonenumber's candidates for a number of
// region (see primaryZone); "" when there is none.
func Choose(region string, cands []string) string {
	var known []string
	for _, c := range cands {
		if c != "" && c != phonenumbers.UNKNOWN_TIMEZONE {
			known = append(known, c)
		}
	}
	if len(known) == 0 {
		return ""
	}
	if p, ok := primaryZone[region]; ok && slices.Contains(known, p) {
		return p
	}
	slices.Sort(known)
	return known[0]
}

func (z *Zones) load(name string) *time.Location {
	if l := z.known(name); l != nil {
		return l
	}
	return z.fallback
}

// known is the zone called name, or nil when this machine's time zone
// database has none of that name.
func (z *Zones) known(name string) *time.Location {
	if name == "" {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if l, ok := z.loaded[name]; ok {
		return l
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		l = nil
	}
	z.loaded[name] = l
	return l
}
