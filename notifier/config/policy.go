package config

import (
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/policy"
)

// Settings of the frequency cap and quiet hours (notifier/README.md,
// "Frequency cap and quiet hours"); the cap itself is sender.daily_cap.
// Kept in their own block so they are easy to find and merge.
func init() {
	Keys = append(Keys,
		Key{"policy.quiet_hours", "", "local times HH:MM-HH:MM (e.g. 21:00-08:00, across midnight when the start is later) in which no non-urgent buyer message goes; such messages are deferred to the end (empty: no quiet hours)", false},
		Key{"policy.urgent_events", []string{notifier.EventColdChainBreached}, "event types whose buyer messages bypass the daily cap and quiet hours and do not count toward the cap", false},
		Key{"policy.default_time_zone", "UTC", "IANA time zone of recipients whose number maps to no zone", false},
	)
}

// PolicySettings are the policy.* settings.
type PolicySettings struct {
	QuietHours      string   `mapstructure:"quiet_hours"`
	UrgentEvents    []string `mapstructure:"urgent_events"`
	DefaultTimeZone string   `mapstructure:"default_time_zone"`
}

// BuildPolicy returns the policy the settings and sender.daily_cap describe.
func (c Config) BuildPolicy() (*policy.Policy, error) {
	start, end, err := policy.ParseQuietHours(c.Policy.QuietHours)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(c.Policy.DefaultTimeZone)
	if err != nil {
		return nil, err
	}
	return policy.New(policy.Config{DailyCap: c.Sender.DailyCap, QuietStart: start, QuietEnd: end,
		Urgent: c.Policy.UrgentEvents, DefaultZone: loc}), nil
}

func (c Config) validatePolicy(bad func(key, format string, args ...any)) {
	if _, _, err := policy.ParseQuietHours(c.Policy.QuietHours); err != nil {
		bad("policy.quiet_hours", "%v", err)
	}
	if _, err := time.LoadLocation(c.Policy.DefaultTimeZone); err != nil || c.Policy.DefaultTimeZone == "" {
		bad("policy.default_time_zone", "must be an IANA time zone like Europe/Berlin, not %q", c.Policy.DefaultTimeZone)
	}
}
