// Package tracklink issues and checks the signed links of the public
// tracking page: the exporter's notifier puts one in the WhatsApp "Track"
// button, a member's gateway serves the page to whoever holds it. A token is
// an HMAC-SHA256, under a secret the two share, over the shipment ID, the
// audience and the expiry, so it needs no API key and no server-side state,
// and nothing in it is personal.
package tracklink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// MinSecretBytes is the shortest secret accepted: shorter keys weaken the
// MAC below its 256 bits.
const MinSecretBytes = 32

// version is the token layout; a new layout gets a new byte, so old links
// are refused cleanly instead of being misread. Version 2 adds the
// message's template and A/B variant (for the click KPI); claims without
// them are still issued as version 1, and both are verified.
const (
	version    = 1
	versionKPI = 2
)

// macLen is the length of the HMAC-SHA256 tag.
const macLen = sha256.Size

// domain separates this MAC from any other use of the same secret.
var domain = []byte("shiptrace-track-v1\x00")

// Audiences of the links the notifier issues: the buyer's messages and the
// exporter's operations number.
const (
	AudienceBuyer = "buyer"
	AudienceOps   = "ops"
)

// ErrInvalid is every reason a token is refused (malformed, wrong MAC,
// expired). Callers must not tell them apart to the public: a guesser learns
// nothing from the answer.
var ErrInvalid = errors.New("tracking link is not valid")

// Claims is what a token says.
type Claims struct {
	ShipmentID string
	// Audience names for whom the link was made (e.g. "buyer"): a link for
	// one audience is not a link for another.
	Audience string
	// Lang is the recipient's language (en, de, es, pt_BR), so the button
	// of a WhatsApp message opens the page in the message's language;
	// empty lets the browser's Accept-Language decide.
	Lang    string
	Expires time.Time // whole seconds
	// Template and Variant name the message the link was sent in (its
	// WhatsApp template and A/B variant), so an open can be counted for
	// it; empty for links that need not be counted. Not personal.
	Template string
	Variant  string
}

// Signer issues and verifies tokens under one secret.
type Signer struct {
	secret []byte
}

// New returns a Signer; the secret must hold at least MinSecretBytes.
func New(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("tracklink: the secret has %d bytes, at least %d are needed", len(secret), MinSecretBytes)
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// Issue returns the token for c: base64url (no padding) of
// version | expiry (int64 Unix seconds, big endian) | len(audience) |
// audience | len(lang) | lang | shipment ID | HMAC-SHA256 of all that.
// The same claims always give the same token.
func (s *Signer) Issue(c Claims) (string, error) {
	if c.ShipmentID == "" || c.Audience == "" {
		return "", errors.New("tracklink: a shipment ID and an audience are required")
	}
	if len(c.Audience) > 255 || len(c.Lang) > 255 || len(c.ShipmentID) > 1024 || len(c.Template) > 255 || len(c.Variant) > 255 {
		return "", errors.New("tracklink: audience, language, template, variant or shipment ID too long")
	}
	kpi := c.Template != "" || c.Variant != ""
	b := make([]byte, 0, 13+len(c.Audience)+len(c.Lang)+len(c.Template)+len(c.Variant)+len(c.ShipmentID)+macLen)
	if kpi {
		b = append(b, versionKPI)
	} else {
		b = append(b, version)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(c.Expires.Unix()))
	b = append(b, byte(len(c.Audience)))
	b = append(b, c.Audience...)
	b = append(b, byte(len(c.Lang)))
	b = append(b, c.Lang...)
	if kpi {
		b = append(b, byte(len(c.Template)))
		b = append(b, c.Template...)
		b = append(b, byte(len(c.Variant)))
		b = append(b, c.Variant...)
	}
	b = append(b, c.ShipmentID...)
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Verify returns the claims of a token that this secret signed for one of
// audiences and that has not expired at now; anything else is ErrInvalid.
func (s *Signer) Verify(token string, now time.Time, audiences ...string) (Claims, error) {
	c, body, tag, err := parse(token)
	if err != nil || !hmac.Equal(tag, s.mac(body)) {
		return Claims{}, ErrInvalid
	}
	if !slices.Contains(audiences, c.Audience) || !now.Before(c.Expires) {
		return Claims{}, ErrInvalid
	}
	return c, nil
}

// Inspect reads what a token says without checking its tag or expiry: for
// tools and tests that show which shipment a link names. Nothing may be
// granted on its answer; that is Verify's job.
func Inspect(token string) (Claims, error) {
	c, _, _, err := parse(token)
	return c, err
}

// parse splits a token into its claims, the signed body and the tag.
func parse(token string) (c Claims, body, tag []byte, err error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 11+macLen+2 || (b[0] != version && b[0] != versionKPI) {
		return Claims{}, nil, nil, ErrInvalid
	}
	body, tag = b[:len(b)-macLen], b[len(b)-macLen:]
	// field reads a length byte at i and the bytes after it.
	field := func(i int) (string, int, bool) {
		if i >= len(body) {
			return "", i, false
		}
		n := int(body[i])
		if i+1+n >= len(body) {
			return "", i, false
		}
		return string(body[i+1 : i+1+n]), i + 1 + n, true
	}
	c = Claims{Expires: time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0).UTC()}
	i, ok := 9, true
	if c.Audience, i, ok = field(i); !ok || c.Audience == "" {
		return Claims{}, nil, nil, ErrInvalid
	}
	if c.Lang, i, ok = field(i); !ok {
		return Claims{}, nil, nil, ErrInvalid
	}
	if body[0] == versionKPI {
		if c.Template, i, ok = field(i); !ok {
			return Claims{}, nil, nil, ErrInvalid
		}
		if c.Variant, i, ok = field(i); !ok {
			return Claims{}, nil, nil, ErrInvalid
		}
	}
	c.ShipmentID = string(body[i:])
	return c, body, tag, nil
}

func (s *Signer) mac(body []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(domain)
	m.Write(body)
	return m.Sum(nil)
}
