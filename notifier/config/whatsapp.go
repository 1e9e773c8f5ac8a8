package config

import "time"

// Settings for WhatsApp's edge cases (notifier/README.md: dead letters,
// consent). Kept in their own block so they are easy to find and merge.
func init() {
	Keys = append(Keys,
		Key{"intake.contact_grace", 2 * time.Minute, "a NOT_FOUND buyer contact for an event younger than this is looked up again later instead of skipped (private data may not have reached this peer yet)", false},
		Key{"intake.retry_attempts", 8, "lookups of an event set aside for a per-shipment error before it becomes a dead letter (GET /v1/dead-letters)", false},
	)
}
