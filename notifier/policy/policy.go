// Package policy decides when a buyer message may go: at most DailyCap
// non-urgent messages per recipient per local calendar day, none in the
// recipient's quiet hours. A message that may not go now is deferred, never
// dropped: Schedule returns the earliest time it may, and the outbox keeps
// it queued until then (notifier/README.md, "Frequency cap and quiet hours").
package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
)

// DayLayout is how a local calendar day is written in cap keys and
// notifications (CapDay): the recipient's date, not UTC's.
const DayLayout = "2006-01-02"

// Deferral reasons, recorded on a deferred notification.
const (
	ReasonQuietHours = "quiet_hours"
	ReasonDailyCap   = "daily_cap_reached"
)

// Config is the policy's settings.
type Config struct {
	// DailyCap is the most non-urgent buyer messages per recipient per
	// local calendar day; 0 disables the cap.
	DailyCap int
	// QuietStart and QuietEnd are times of day (since local midnight);
	// the quiet hours run from QuietStart to QuietEnd, across midnight
	// when QuietStart > QuietEnd. Equal values: no quiet hours.
	QuietStart, QuietEnd time.Duration
	// Urgent event types bypass cap and quiet hours (and do not count
	// toward the cap): a cold-chain breach must not wait for the morning.
	Urgent []string
	// DefaultZone is used when a number's zone is unknown (UTC if nil).
	DefaultZone *time.Location
}

// Policy applies a Config. It holds no state: caps are counted in the
// outbox, inside the transaction that records the notification.
type Policy struct {
	cfg   Config
	zones *Zones
}

// New returns a policy.
func New(cfg Config) *Policy {
	if cfg.DefaultZone == nil {
		cfg.DefaultZone = time.UTC
	}
	return &Policy{cfg: cfg, zones: NewZones(cfg.DefaultZone)}
}

// ParseQuietHours reads "21:00-08:00" (local times of day, 24-hour clock).
// An empty string means no quiet hours.
func ParseQuietHours(s string) (start, end time.Duration, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM", s)
	}
	parse := func(v string) (time.Duration, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("quiet hours %q: %q is not HH:MM", s, v)
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
	}
	if start, err = parse(from); err != nil {
		return 0, 0, err
	}
	if end, err = parse(to); err != nil {
		return 0, 0, err
	}
	return start, end, nil
}

// Applies reports whether n is subject to cap and quiet hours: buyer
// messages of non-urgent event types. Operators' alerts never wait.
func (p *Policy) Applies(n notifier.Notification) bool {
	return n.Recipient == notifier.RoleBuyer && !p.Urgent(n.EventType)
}

// Urgent reports whether events of this type bypass cap and quiet hours.
func (p *Policy) Urgent(eventType string) bool { return slices.Contains(p.cfg.Urgent, eventType) }

// Zone is the recipient's time zone: the contact's own when it names one
// this machine knows, else the number's (Zones).
func (p *Policy) Zone(n notifier.Notification) *time.Location {
	if n.TimeZone != "" {
		if loc := p.zones.known(n.TimeZone); loc != nil {
			return loc
		}
	}
	return p.zones.ForNumber(n.Phone)
}

// Quiet reports whether t falls in the quiet hours of loc and, if so,
// when they end.
func (p *Policy) Quiet(t time.Time, loc *time.Location) (bool, time.Time) {
	s, e := p.cfg.QuietStart, p.cfg.QuietEnd
	if s == e {
		return false, time.Time{}
	}
	t = t.In(loc)
	y, m, d := t.Date()
	clock := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	at := func(day int, off time.Duration) time.Time {
		return time.Date(y, m, day, int(off/time.Hour), int(off%time.Hour/time.Minute), 0, 0, loc)
	}
	switch {
	case s < e: // e.g. 13:00-15:00, within one day
		if clock >= s && clock < e {
			return true, at(d, e)
		}
	case clock >= s: // across midnight, evening part
		return true, at(d+1, e)
	case clock < e: // across midnight, morning part
		return true, at(d, e)
	}
	return false, time.Time{}
}

// Schedule returns the earliest time at or after now at which a message to
// a recipient in loc may go, the local day it counts against, and why it
// waits ("" when it may go now). used reports how many messages a local day
// already holds. A day that is full moves the message to the next day's
// first moment outside quiet hours; the search ends after a year (a cap
// of at least 1 always finds a day long before).
func (p *Policy) Schedule(now time.Time, loc *time.Location, used func(day string) int) (at time.Time, day, reason string) {
	t := now.In(loc)
	for range 400 {
		if q, end := p.Quiet(t, loc); q {
			t = end
			if reason == "" {
				reason = ReasonQuietHours
			}
		}
		day = t.Format(DayLayout)
		if p.cfg.DailyCap > 0 && used(day) >= p.cfg.DailyCap {
			y, m, d := t.Date()
			t = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
			reason = ReasonDailyCap
			continue
		}
		if !t.After(now) {
			return now, day, ""
		}
		return t, day, reason
	}
	return t, t.Format(DayLayout), reason
}

// Hold reports whether a due message must wait for the end of its
// recipient's quiet hours, and until when: the check at send time, for a
// message that a retry, a pause or the pacing pushed into them after it
// was scheduled.
func (p *Policy) Hold(n notifier.Notification, now time.Time) (bool, time.Time) {
	if !p.Applies(n) || n.Phone == "" {
		return false, time.Time{}
	}
	return p.Quiet(now, p.Zone(n))
}
