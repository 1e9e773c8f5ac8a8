// Package conversation answers buyers who write to the exporter's WhatsApp
// number: the status of their order on request, and "Report a problem",
// a short exchange that ends in a claim recorded on the ledger as digests
// (shipment.NewClaim). It replies with free-form messages, which WhatsApp
// allows only within 24 hours of the buyer's last message; it never
// answers outside that window. A number that is not the buyer contact of
// an open shipment gets one neutral text that reveals nothing.
//
// State (who is the buyer of what, the window, an exchange in progress,
// claims with the buyer's words and photos) is in the notifier's store
// (outbox), under keyed references, and goes with contact.deleted.
package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

// Window is WhatsApp's customer-service window.
const Window = 24 * time.Hour

// Reply IDs our free-form messages and templates put on buttons and rows.
const (
	payloadStatus  = "STATUS:" // + shipment ID: the shipped template's Status button
	payloadClaim   = "CLAIM:"  // + shipment ID: Report a problem on the delivered and breach templates
	payloadPick    = "PICK:"   // + shipment ID: a row of the list of open orders
	payloadCat     = "CAT:"    // + category
	payloadNoPhoto = "NOPHOTO" // finish a claim without a photo
	maxWords       = 1000      // characters of a description
	sessionTTL     = 24 * time.Hour
)

// Session steps.
const (
	stepPick     = "pick"
	stepCategory = "category"
	stepWords    = "words"
	stepPhoto    = "photo"
	intentStatus = "status"
	intentClaim  = "claim"
)

// Store is the part of the notifier's store the conversation uses
// (*outbox.Store).
type Store interface {
	BuyerShipments(from string) ([]outbox.BuyerEntry, error)
	NoteInbound(from, messageID string, at time.Time) (bool, error)
	LastInbound(from string) (time.Time, error)
	Session(from string) (outbox.Session, bool, error)
	PutSession(from string, s outbox.Session) error
	EndSession(from string) error
	PutClaimPhoto(claimID, sha256 string, data []byte) error
	OpenClaimRecord(from string, c outbox.ClaimRecord) (outbox.ClaimRecord, error)
	UpdateClaim(id string, change func(*outbox.ClaimRecord)) (outbox.ClaimRecord, error)
	ClaimsByStatus(status string) ([]outbox.ClaimRecord, error)
	PhoneRef(phone string) string
	MessageRef(id string) string
}

// Ledger is what the conversation reads and writes on the ledger, as the
// notifier's own identity (Fabric adapter: ledger.go).
type Ledger interface {
	ReadShipment(ctx context.Context, id string) (*shipment.Shipment, error)
	MemberName(ctx context.Context, mspID string) string
	// OpenClaim records c on shipment id and returns the transaction ID
	// that holds it (the first one, for a retry of a recorded claim).
	OpenClaim(ctx context.Context, id string, c shipment.NewClaim) (string, error)
}

// Messenger sends free-form replies and fetches media (notifier/whatsapp).
type Messenger interface {
	SendFreeForm(ctx context.Context, to string, m whatsapp.FreeForm) (notifier.SendResult, error)
	FetchMedia(ctx context.Context, mediaID string, maxBytes int64) (whatsapp.Media, error)
}

// Config configures the engine.
type Config struct {
	// Now is the clock of the 24-hour window (default time.Now).
	Now func() time.Time
	// Links signs the tracking link of status replies (nil: TrackingURL
	// with the shipment ID, or no link); LinkTTL is its lifetime.
	Links       *tracklink.Signer
	TrackingURL string
	LinkTTL     time.Duration
	// MaxPhotoBytes bounds a photo (default 5 MiB, WhatsApp's image limit).
	MaxPhotoBytes int64
	// ResumeEvery is how often pending claims are submitted again (30 s).
	ResumeEvery time.Duration
	// SubmitTimeout bounds one OpenClaim submission (30 s).
	SubmitTimeout time.Duration
}

// Engine is the conversation.
type Engine struct {
	cfg    Config
	store  Store
	ledger Ledger
	msgr   Messenger
	log    *slog.Logger
	wake   chan struct{}
	// senders serialises the messages of one sender (striped by its
	// keyed reference): Meta may deliver two at once, and an exchange's
	// steps read and write the same session.
	senders [64]sync.Mutex
}

// New returns an engine; log receives no personal data.
func New(cfg Config, store Store, ledger Ledger, msgr Messenger, log *slog.Logger) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxPhotoBytes <= 0 {
		cfg.MaxPhotoBytes = 5 << 20
	}
	if cfg.ResumeEvery <= 0 {
		cfg.ResumeEvery = 30 * time.Second
	}
	if cfg.SubmitTimeout <= 0 {
		cfg.SubmitTimeout = 30 * time.Second
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 90 * 24 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, store: store, ledger: ledger, msgr: msgr, log: log, wake: make(chan struct{}, 1)}
}

// turn is one inbound message being answered.
type turn struct {
	m       notifier.InboundMessage
	ref     string // keyed reference of the sender, for logs
	entries []outbox.BuyerEntry
	lang    string
}

// Handle answers one inbound message. It returns an error only when the
// store fails (Meta then redelivers the webhook); a reply that cannot be
// sent is logged. A message seen before is not answered again, and none is
// answered once the window it opened has closed.
func (e *Engine) Handle(ctx context.Context, m notifier.InboundMessage) error {
	seen, err := e.store.NoteInbound(m.From, m.ID, m.At)
	if err != nil {
		return err
	}
	t := &turn{m: m, ref: e.store.PhoneRef(m.From)}
	lock := &e.senders[stripe(t.ref)]
	lock.Lock()
	defer lock.Unlock()
	if seen {
		e.log.Debug("inbound message already answered", slog.String("recipient_ref", t.ref))
		return nil
	}
	if t.entries, err = e.store.BuyerShipments(m.From); err != nil {
		return err
	}
	t.lang = "en"
	if len(t.entries) > 0 {
		t.lang = language(t.entries[len(t.entries)-1].Language)
	}
	sess, inSession, err := e.store.Session(m.From)
	if err != nil {
		return err
	}
	if inSession && e.cfg.Now().Sub(sess.StartedAt) > sessionTTL {
		if err := e.store.EndSession(m.From); err != nil {
			return err
		}
		inSession = false
	}
	if inSession && sess.Language != "" {
		t.lang = sess.Language
	}
	id := m.ReplyID
	switch {
	case strings.HasPrefix(id, payloadStatus):
		return e.statusOf(ctx, t, strings.TrimPrefix(id, payloadStatus))
	case strings.HasPrefix(id, payloadClaim):
		return e.startClaim(ctx, t, strings.TrimPrefix(id, payloadClaim))
	case inSession:
		if handled, err := e.continueSession(ctx, t, sess); handled || err != nil {
			return err
		}
	}
	if l, ok := matchWord(statusWords, m.Text); ok {
		if len(t.entries) == 0 {
			t.lang = l
		}
		return e.statusRequest(ctx, t)
	}
	if l, ok := matchWord(claimWords, m.Text); ok {
		if len(t.entries) == 0 {
			t.lang = l
		}
		return e.claimRequest(ctx, t)
	}
	// Anything else: how to ask, but only to the buyer of an open
	// shipment; every other number gets the neutral answer, so the reply
	// to any text tells nothing about closed or erased shipments.
	if len(e.shipments(ctx, t, open)) == 0 {
		return e.neutral(ctx, t)
	}
	return e.reply(ctx, t, whatsapp.FreeForm{Text: catalog[t.lang].Help})
}

func stripe(ref string) int {
	h := 0
	for i := 0; i < len(ref); i++ {
		h = h*31 + int(ref[i])
	}
	return (h%64 + 64) % 64
}

// neutral is the one answer to a number that is not the buyer of an open
// shipment: the same text whether the number is unknown, erased or only of
// closed shipments, so an answer reveals nothing.
func (e *Engine) neutral(ctx context.Context, t *turn) error {
	return e.reply(ctx, t, whatsapp.FreeForm{Text: catalog[t.lang].Neutral})
}

// owns reports whether the sender is the buyer contact of shipment id.
func (t *turn) owns(id string) bool {
	return slices.ContainsFunc(t.entries, func(b outbox.BuyerEntry) bool { return b.ShipmentID == id })
}

// reply sends a free-form message to the sender if the window its last
// message opened is still open by the engine's clock.
func (e *Engine) reply(ctx context.Context, t *turn, msg whatsapp.FreeForm) error {
	_, err := e.send(ctx, t.m.From, t.ref, msg)
	return err
}

// send sends msg to to if the window is open; sent says whether WhatsApp
// accepted it.
func (e *Engine) send(ctx context.Context, to, ref string, msg whatsapp.FreeForm) (sent bool, err error) {
	last, err := e.store.LastInbound(to)
	if err != nil {
		return false, err
	}
	if last.IsZero() || e.cfg.Now().Sub(last) >= Window {
		e.log.Info("no free-form reply: the 24-hour window is closed", slog.String("recipient_ref", ref),
			slog.Time("last_inbound", last))
		return false, nil
	}
	if _, err := e.msgr.SendFreeForm(ctx, to, msg); err != nil {
		var se *notifier.SendError
		code := 0
		if errors.As(err, &se) {
			code = se.Code
		}
		e.log.Warn("free-form reply not sent", slog.String("recipient_ref", ref), slog.Int("code", code), slog.Any("error", err))
		return false, nil
	}
	return true, nil
}

// openShipments reads the sender's shipments from the ledger and keeps
// those keep (e.g. not terminal); a shipment that cannot be read is left
// out (and logged), never guessed.
func (e *Engine) shipments(ctx context.Context, t *turn, keep func(*shipment.Shipment) bool) []*shipment.Shipment {
	var out []*shipment.Shipment
	for _, b := range t.entries {
		s, err := e.ledger.ReadShipment(ctx, b.ShipmentID)
		if err != nil {
			e.log.Warn("read shipment for a buyer's message", slog.String("shipment", b.ShipmentID), slog.Any("error", err))
			continue
		}
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func open(s *shipment.Shipment) bool { return !s.Status.Terminal() }

func claimable(s *shipment.Shipment) bool { return s.StatusAllows(shipment.OpOpenClaim) }

// statusRequest answers "status": one open shipment gets its status, several
// a list to pick from, none the neutral answer.
func (e *Engine) statusRequest(ctx context.Context, t *turn) error {
	return e.choose(ctx, t, intentStatus, e.shipments(ctx, t, open))
}

// claimRequest starts a claim by keyword: on the one shipment a claim can
// be made on, or after the buyer picks one.
func (e *Engine) claimRequest(ctx context.Context, t *turn) error {
	return e.choose(ctx, t, intentClaim, e.shipments(ctx, t, claimable))
}

func (e *Engine) choose(ctx context.Context, t *turn, intent string, ss []*shipment.Shipment) error {
	switch len(ss) {
	case 0:
		return e.neutral(ctx, t)
	case 1:
		return e.proceed(ctx, t, intent, ss[0])
	}
	if len(ss) > 10 {
		ss = ss[:10] // a list holds ten rows
	}
	tx := catalog[t.lang]
	sess := outbox.Session{Step: stepPick, Intent: intent, Language: t.lang, StartedAt: e.cfg.Now()}
	msg := whatsapp.FreeForm{Text: fmt.Sprintf(tx.Pick, len(ss)), ListButton: tx.Choose}
	for i, s := range ss {
		sess.Candidates = append(sess.Candidates, s.ID)
		msg.Text += fmt.Sprintf("\n%d %s", i+1, label(s))
		msg.Rows = append(msg.Rows, whatsapp.ListRow{ID: payloadPick + s.ID, Title: clip(fmt.Sprintf("%d %s", i+1, ref(s)), 24),
			Description: clip(s.Product.Description+", lot "+s.Product.Lot, 72)})
	}
	if err := e.store.PutSession(t.m.From, sess); err != nil {
		return err
	}
	return e.reply(ctx, t, msg)
}

func (e *Engine) proceed(ctx context.Context, t *turn, intent string, s *shipment.Shipment) error {
	if intent == intentClaim {
		return e.beginClaim(ctx, t, s)
	}
	return e.replyStatus(ctx, t, s)
}

// statusOf answers the Status button of shipment id.
func (e *Engine) statusOf(ctx context.Context, t *turn, id string) error {
	if !t.owns(id) {
		return e.neutral(ctx, t)
	}
	s, err := e.ledger.ReadShipment(ctx, id)
	if err != nil {
		e.log.Warn("read shipment for a status request", slog.String("shipment", id), slog.Any("error", err))
		return e.neutral(ctx, t)
	}
	return e.replyStatus(ctx, t, s)
}

// ref is how the buyer knows a shipment: its buyer reference (the
// order number), else its ID.
func ref(s *shipment.Shipment) string {
	if s.BuyerRef != "" {
		return s.BuyerRef
	}
	return s.ID
}

func label(s *shipment.Shipment) string {
	return ref(s) + " – " + s.Product.Description
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// replyStatus sends the status of s: status, custodian's display name,
// cold-chain verdict, expected delivery and the tracking link.
func (e *Engine) replyStatus(ctx context.Context, t *turn, s *shipment.Shipment) error {
	tx := catalog[t.lang]
	expected := tx.Unknown
	if !s.ExpectedDeliveryAt.IsZero() {
		expected = s.ExpectedDeliveryAt.UTC().Format("2006-01-02")
	}
	status := tx.Statuses[s.Status]
	if status == "" {
		status = string(s.Status)
	}
	cc := tx.ColdChain[s.ColdChain.State]
	if cc == "" {
		cc = string(s.ColdChain.State)
	}
	text := fmt.Sprintf(tx.Status, ref(s), s.Product.Description, status, e.ledger.MemberName(ctx, s.Custodian), cc, expected, e.link(s.ID, t.lang))
	if err := e.store.EndSession(t.m.From); err != nil {
		return err
	}
	return e.reply(ctx, t, whatsapp.FreeForm{Text: text})
}

// link is the signed tracking link, as the notifier's templates carry it
// (tracklink), for the buyer's audience and language.
func (e *Engine) link(id, lang string) string {
	if e.cfg.Links == nil {
		if e.cfg.TrackingURL == "" {
			return catalog[lang].NoLink
		}
		return fmt.Sprintf(e.cfg.TrackingURL, id)
	}
	tok, err := e.cfg.Links.Issue(tracklink.Claims{ShipmentID: id, Audience: tracklink.AudienceBuyer, Lang: lang,
		Expires: e.cfg.Now().Add(e.cfg.LinkTTL).Truncate(time.Second)})
	if err != nil {
		e.log.Warn("tracking link", slog.String("shipment", id), slog.Any("error", err))
		return catalog[lang].NoLink
	}
	if e.cfg.TrackingURL == "" {
		return tok
	}
	return fmt.Sprintf(e.cfg.TrackingURL, tok)
}

// continueSession takes the next message of an exchange in progress. A
// message that does not answer a pick ends the exchange and is read afresh
// (handled false).
func (e *Engine) continueSession(ctx context.Context, t *turn, sess outbox.Session) (handled bool, err error) {
	switch sess.Step {
	case stepPick:
		id := strings.TrimPrefix(t.m.ReplyID, payloadPick)
		if t.m.ReplyID == "" {
			if n, err := strconv.Atoi(strings.TrimSpace(t.m.Text)); err == nil && n >= 1 && n <= len(sess.Candidates) {
				id = sess.Candidates[n-1]
			}
		}
		if !slices.Contains(sess.Candidates, id) || !t.owns(id) {
			return false, e.store.EndSession(t.m.From)
		}
		s, err := e.ledger.ReadShipment(ctx, id)
		if err != nil {
			e.log.Warn("read picked shipment", slog.String("shipment", id), slog.Any("error", err))
			return true, e.neutral(ctx, t)
		}
		return true, e.proceed(ctx, t, sess.Intent, s)
	case stepCategory, stepWords, stepPhoto:
		return true, e.claimStep(ctx, t, sess)
	}
	return false, e.store.EndSession(t.m.From)
}

// claimDigest is the SHA-256 of a buyer's words or photo, hex.
func claimDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
