package policy_test

import (
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/policy"
)

func TestZoneFromTheNumber(t *testing.T) {
	z := policy.NewZones(time.UTC)
	for number, want := range map[string]string{
		"+5511987654321": "America/Sao_Paulo",   // São Paulo area code
		"+5592987654321": "America/Manaus",      // Manaus area code: one zone, no choice
		"+4915112345678": "Europe/Berlin",       //
		"+525512345678":  "America/Mexico_City", //
		"+5215512345678": "America/Mexico_City", // old 521 form: eight candidates, the primary zone
		"+447911123456":  "Europe/London",       // UK mobile: London, Guernsey, Isle of Man
		"+819012345678":  "Asia/Tokyo",
		"+13105551234":   "America/Los_Angeles",
	} {
		if got := z.ForNumber(number).String(); got != want {
			t.Errorf("zone of %s… = %s, want %s", number[:5], got, want)
		}
	}
	if got := z.ForNumber("not a number"); got != time.UTC {
		t.Errorf("unknown number: %v, want the fallback", got)
	}
	if got := policy.Choose("XX", []string{"Europe/Zurich", "Europe/Berlin"}); got != "Europe/Berlin" {
		t.Errorf("no primary zone: %s, want the first in alphabetical order", got)
	}
}

func TestScheduleDefersOutOfQuietHoursAndFullDays(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, e, err := policy.ParseQuietHours("21:00-08:00")
	if err != nil {
		t.Fatal(err)
	}
	p := policy.New(policy.Config{DailyCap: 2, QuietStart: s, QuietEnd: e})
	none := func(string) int { return 0 }
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, berlin) }
	tests := []struct {
		name   string
		now    time.Time
		used   func(string) int
		want   time.Time
		reason string
	}{
		{"daytime goes now", at(3, 12, 0), none, at(3, 12, 0), ""},
		{"evening waits for the morning", at(3, 22, 30), none, at(4, 8, 0), policy.ReasonQuietHours},
		{"early morning waits until 08:00", at(4, 6, 0), none, at(4, 8, 0), policy.ReasonQuietHours},
		{"full day goes the next morning", at(3, 12, 0), func(d string) int {
			if d == "2026-03-03" {
				return 2
			}
			return 0
		}, at(4, 8, 0), policy.ReasonDailyCap},
		{"across the spring DST change", at(28, 23, 0), none, at(29, 8, 0), policy.ReasonQuietHours},
	}
	for _, tt := range tests {
		got, day, reason := p.Schedule(tt.now, berlin, tt.used)
		if !got.Equal(tt.want) || reason != tt.reason || day != got.In(berlin).Format(policy.DayLayout) {
			t.Errorf("%s: %v %s %q, want %v %q", tt.name, got.In(berlin), day, reason, tt.want, tt.reason)
		}
	}
	for _, bad := range []string{"21-08", "25:00-08:00", "21:00"} {
		if _, _, err := policy.ParseQuietHours(bad); err == nil {
			t.Errorf("quiet hours %q accepted", bad)
		}
	}
}

// TestTheContactsZoneWinsOverTheNumbers: a German mobile number whose
// owner lives in São Paulo keeps the quiet hours of São Paulo; a zone this
// machine does not know falls back to the number's.
func TestTheContactsZoneWinsOverTheNumbers(t *testing.T) {
	p := policy.New(policy.Config{})
	n := notifier.Notification{Phone: "+4915112345678"}
	if got := p.Zone(n).String(); got != "Europe/Berlin" {
		t.Fatalf("no zone in the contact: %s, want the number's Europe/Berlin", got)
	}
	n.TimeZone = "America/Sao_Paulo"
	if got := p.Zone(n).String(); got != "America/Sao_Paulo" {
		t.Errorf("the contact's zone: %s, want America/Sao_Paulo", got)
	}
	n.TimeZone = "Mars/Olympus_Mons"
	if got := p.Zone(n).String(); got != "Europe/Berlin" {
		t.Errorf("an unknown zone: %s, want the number's Europe/Berlin", got)
	}
}
