package sender

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/phone"
)

// ConsentChecker re-checks, just before a send, that the recipient still
// wants the message. Minutes or hours can pass between recording a
// notification and sending it (backoff, a pause, the daily pacing), and the
// exporter may withdraw consent or erase the contact in between.
type ConsentChecker interface {
	// Check returns a skip reason, "" to send, or an error when it cannot
	// tell (the message is then held, not sent).
	Check(ctx context.Context, n notifier.Notification) (skip string, err error)
}

// ContactConsent asks the contact source again for buyer messages:
// no contact, no consent, or a different number now means the message
// recorded earlier must not go out. Operators' alerts are not checked.
//
// A message recorded less than FreshFor ago asks Recent instead: the
// intake's contact cache, which forgets a contact as soon as the event
// stream shows it changed or erased, so it answers as the ledger did when
// the stream passed that change. Reading the exporter's peer again for a
// message decided a few milliseconds earlier doubled the peer reads per
// message and, under load, added their latency to every send. Older
// messages (held by a backoff, a pause or the pacing) read Contacts, the
// ledger itself, whatever the stream's lag.
type ContactConsent struct {
	Contacts notifier.ContactSource
	Recent   notifier.ContactSource // nil: always Contacts
	FreshFor time.Duration
	Now      func() time.Time // time.Now when nil
}

// Check implements ConsentChecker.
func (c ContactConsent) Check(ctx context.Context, n notifier.Notification) (string, error) {
	if n.Recipient != notifier.RoleBuyer || c.Contacts == nil {
		return "", nil
	}
	src, now := c.Contacts, time.Now
	if c.Now != nil {
		now = c.Now
	}
	if c.Recent != nil && now().Sub(n.CreatedAt) < c.FreshFor {
		src = c.Recent
	}
	ct, err := src.BuyerContact(ctx, n.ShipmentID)
	switch {
	case errors.Is(err, notifier.ErrNoContact):
		return "no_contact", nil
	case err != nil:
		return "", fmt.Errorf("check consent for %s: %w", n.ShipmentID, err)
	case !ct.Consent:
		return "no_consent", nil
	case phone.Digits(ct.Phone) != phone.Digits(n.Phone):
		if e164, err := phone.Parse(ct.Phone); err != nil || phone.Digits(e164) != phone.Digits(n.Phone) {
			return "contact_changed", nil
		}
	}
	return "", nil
}
