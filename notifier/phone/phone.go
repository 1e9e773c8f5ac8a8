// Package phone parses buyers' and operators' numbers with libphonenumber's
// metadata (github.com/nyaruka/phonenumbers) and knows the other forms
// WhatsApp may use for the same person. A WhatsApp ID (wa_id) is not always
// the number a business wrote down: Meta's send response and webhooks carry
// the account's wa_id, which for Brazilian mobiles registered before the
// ninth digit lacks it, and for Mexico and Argentina may carry or lack the
// mobile prefix (1 after 52, 9 after 54). A STOP arrives from the wa_id, so
// consent must be matched on both forms (notifier/README.md, "Consent").
package phone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/shiptrace/shiptrace/notifier"
)

// ErrInvalid is returned for a number that is not a valid international
// number; the error never quotes the number (it is personal data).
var ErrInvalid = errors.New("not a valid international phone number")

// Parse returns the E.164 form ("+5511987654321") of a number written in
// international form ("+55 11 98765-4321"). Numbers without the leading +
// and a country code are refused: the notifier serves buyers in many
// countries and cannot guess a default region.
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("%w: must start with + and the country code", ErrInvalid)
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, reason(err))
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: no such number in the numbering plan of +%d", ErrInvalid, n.GetCountryCode())
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// reason keeps the library's own words but never the input.
func reason(err error) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "unknown country code"
	case errors.Is(err, phonenumbers.ErrNotANumber):
		return "not a number"
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "too short"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "too long"
	}
	return "unparseable"
}

// Digits reduces a number or a wa_id to its digits, the form WhatsApp uses
// for wa_id and recipient_id, and the form phone references are taken of
// (notifier.NormalizePhone).
func Digits(s string) string { return notifier.NormalizePhone(s) }

// Variants returns, as digits, the number itself and the other forms under
// which WhatsApp may know the same account (its possible wa_ids):
//
//   - Brazil (+55): a mobile with the ninth digit (55 AA 9XXXXXXXX) may be an
//     account registered without it (55 AA XXXXXXXX), and the reverse.
//   - Mexico (+52): 52 + 10 digits and the older 521 + 10 digits.
//   - Argentina (+54): mobiles are 549 + 10 digits in E.164; the wa_id or an
//     address book may lack the 9.
//
// The send response's contacts[].wa_id, recorded per number, is the
// authoritative link; these variants cover a STOP that arrives before any
// message was sent.
func Variants(s string) []string {
	d := Digits(s)
	out := []string{d}
	switch {
	case strings.HasPrefix(d, "55") && len(d) == 13 && d[4] == '9':
		out = append(out, d[:4]+d[5:])
	case strings.HasPrefix(d, "55") && len(d) == 12 && d[4] >= '6':
		// An 8-digit local part starting 6-9 was a mobile before the
		// ninth digit was added.
		out = append(out, d[:4]+"9"+d[4:])
	case strings.HasPrefix(d, "521") && len(d) == 13:
		out = append(out, "52"+d[3:])
	case strings.HasPrefix(d, "52") && len(d) == 12:
		out = append(out, "521"+d[2:])
	case strings.HasPrefix(d, "549") && len(d) == 13:
		out = append(out, "54"+d[3:])
	case strings.HasPrefix(d, "54") && len(d) == 12:
		out = append(out, "549"+d[2:])
	}
	return out
}
