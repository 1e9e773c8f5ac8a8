package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/webhook"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
	"github.com/shiptrace/shiptrace/shipment"
)

// startClaim answers the "Report a problem" button of shipment id.
func (e *Engine) startClaim(ctx context.Context, t *turn, id string) error {
	if !t.owns(id) {
		return e.neutral(ctx, t)
	}
	s, err := e.ledger.ReadShipment(ctx, id)
	if err != nil || !claimable(s) {
		if err != nil {
			e.log.Warn("read shipment for a claim", slog.String("shipment", id), slog.Any("error", err))
		}
		return e.neutral(ctx, t)
	}
	return e.beginClaim(ctx, t, s)
}

// claimID is the claim's reference, chosen when the exchange starts and
// kept in the session, so every submission of the claim (a retry after a
// crash included) names the same claim and the contract records it once.
// It is a keyed hash of the sender, the shipment and the message that
// started the exchange: unique per exchange, and telling nothing.
func (e *Engine) claimID(t *turn, shipmentID string) string {
	h := e.store.MessageRef("claim\x00" + t.ref + "\x00" + shipmentID + "\x00" + t.m.ID)
	return "CLM-" + strings.ToUpper(h[:12])
}

// beginClaim asks for the category of a claim on s.
func (e *Engine) beginClaim(ctx context.Context, t *turn, s *shipment.Shipment) error {
	sess := outbox.Session{Step: stepCategory, Intent: intentClaim, ShipmentID: s.ID, BuyerRef: ref(s), ClaimID: e.claimID(t, s.ID),
		Language: t.lang, StartedAt: e.cfg.Now()}
	if err := e.store.PutSession(t.m.From, sess); err != nil {
		return err
	}
	return e.askCategory(ctx, t, sess.BuyerRef)
}

func (e *Engine) askCategory(ctx context.Context, t *turn, buyerRef string) error {
	tx := catalog[t.lang]
	msg := whatsapp.FreeForm{Text: fmt.Sprintf(tx.AskCategory, buyerRef), ListButton: tx.Choose}
	for i, c := range shipment.ClaimCategories {
		msg.Rows = append(msg.Rows, whatsapp.ListRow{ID: payloadCat + string(c), Title: fmt.Sprintf("%d %s", i+1, tx.Categories[c])})
	}
	return e.reply(ctx, t, msg)
}

// category reads a category from a list reply, a number or its name in
// the session's language.
func category(t *turn) (shipment.ClaimCategory, bool) {
	if c, ok := strings.CutPrefix(t.m.ReplyID, payloadCat); ok {
		cat := shipment.ClaimCategory(c)
		return cat, slices.Contains(shipment.ClaimCategories, cat)
	}
	w := webhook.Normalize(t.m.Text)
	if n, err := strconv.Atoi(w); err == nil && n >= 1 && n <= len(shipment.ClaimCategories) {
		return shipment.ClaimCategories[n-1], true
	}
	for _, l := range Languages {
		for c, name := range catalog[l].Categories {
			if webhook.Normalize(name) == w {
				return c, true
			}
		}
	}
	return "", false
}

// claimStep takes the category, then the description, then a photo or
// "No photo", and records the claim.
func (e *Engine) claimStep(ctx context.Context, t *turn, sess outbox.Session) error {
	tx := catalog[t.lang]
	if t.m.Kind == "image" && sess.Step != stepCategory {
		return e.photo(ctx, t, sess)
	}
	switch sess.Step {
	case stepCategory:
		c, ok := category(t)
		if !ok {
			return e.askCategory(ctx, t, sess.BuyerRef)
		}
		sess.Category, sess.Step = string(c), stepWords
		if err := e.store.PutSession(t.m.From, sess); err != nil {
			return err
		}
		return e.reply(ctx, t, whatsapp.FreeForm{Text: tx.AskWords})
	case stepWords:
		words := strings.TrimSpace(t.m.Text)
		if t.m.Kind != "text" || words == "" {
			return e.reply(ctx, t, whatsapp.FreeForm{Text: tx.AskWords})
		}
		if utf8.RuneCountInString(words) > maxWords {
			return e.reply(ctx, t, whatsapp.FreeForm{Text: tx.WordsTooLong})
		}
		sess.Words, sess.Step = words, stepPhoto
		if err := e.store.PutSession(t.m.From, sess); err != nil {
			return err
		}
		return e.reply(ctx, t, whatsapp.FreeForm{Text: tx.AskPhoto, Buttons: []whatsapp.ReplyButton{{ID: payloadNoPhoto, Title: tx.NoPhoto}}})
	case stepPhoto:
		if t.m.ReplyID == payloadNoPhoto || slices.Contains(noPhotoWords, webhook.Normalize(t.m.Text)) || t.m.Kind == "text" {
			return e.record(ctx, t, sess)
		}
		return e.reply(ctx, t, whatsapp.FreeForm{Text: tx.AskPhoto, Buttons: []whatsapp.ReplyButton{{ID: payloadNoPhoto, Title: tx.NoPhoto}}})
	}
	return nil
}

// photo fetches an image through the Cloud API's media endpoints, keeps
// its bytes under the claim and its digest in the session. A photo at the
// photo step completes the claim.
func (e *Engine) photo(ctx context.Context, t *turn, sess outbox.Session) error {
	tx := catalog[t.lang]
	askAgain := whatsapp.FreeForm{Buttons: []whatsapp.ReplyButton{{ID: payloadNoPhoto, Title: tx.NoPhoto}}}
	if len(sess.Photos) >= shipment.MaxClaimPhotos {
		return e.record(ctx, t, sess)
	}
	m, err := e.msgr.FetchMedia(ctx, t.m.MediaID, e.cfg.MaxPhotoBytes)
	if err != nil {
		e.log.Warn("claim photo not fetched", slog.String("claim", sess.ClaimID), slog.Any("error", err))
		askAgain.Text = tx.PhotoFailed
		if errors.Is(err, whatsapp.ErrMediaTooLarge) {
			askAgain.Text = tx.PhotoTooLarge
		}
		return e.reply(ctx, t, askAgain)
	}
	if !slices.ContainsFunc(sess.Photos, func(p outbox.PhotoRef) bool { return p.SHA256 == m.SHA256 }) {
		if err := e.store.PutClaimPhoto(sess.ClaimID, m.SHA256, m.Bytes); err != nil {
			return err
		}
		sess.Photos = append(sess.Photos, outbox.PhotoRef{SHA256: m.SHA256, MIME: m.MIME, Size: len(m.Bytes)})
	}
	if sess.Step == stepPhoto {
		return e.record(ctx, t, sess)
	}
	return e.store.PutSession(t.m.From, sess)
}

// record turns the exchange into a pending claim, durably, and hands it to
// the submitter; the buyer learns the reference now and gets the
// confirmation once the ledger holds the claim.
func (e *Engine) record(ctx context.Context, t *turn, sess outbox.Session) error {
	photos := make([]string, len(sess.Photos))
	for i, p := range sess.Photos {
		photos[i] = p.SHA256
	}
	c := outbox.ClaimRecord{
		ID: sess.ClaimID, ShipmentID: sess.ShipmentID, PhoneRef: t.ref, Category: sess.Category,
		WordsSHA256: claimDigest([]byte(sess.Words)), Photos: sess.Photos, Words: sess.Words,
		ReplyTo: t.m.From, Language: t.lang,
	}
	if err := (shipment.NewClaim{ID: c.ID, Category: shipment.ClaimCategory(c.Category), WordsSHA256: c.WordsSHA256, PhotoSHA256s: photos}).Validate(); err != nil {
		e.log.Error("claim does not validate; exchange dropped", slog.String("claim", c.ID), slog.Any("error", err))
		return e.store.EndSession(t.m.From)
	}
	c, err := e.store.OpenClaimRecord(t.m.From, c)
	if err != nil {
		return err
	}
	e.log.Info("claim recorded, to be submitted", slog.String("claim", c.ID), slog.String("shipment", c.ShipmentID),
		slog.String("category", c.Category), slog.Int("photos", len(c.Photos)))
	if err := e.reply(ctx, t, whatsapp.FreeForm{Text: fmt.Sprintf(catalog[t.lang].Received, c.ID)}); err != nil {
		return err
	}
	e.Wake()
	return nil
}

// Wake makes the submitter look for pending claims now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run submits pending claims: at start (claims a crash left pending), when
// woken and every ResumeEvery, until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	tick := time.NewTicker(e.cfg.ResumeEvery)
	defer tick.Stop()
	for {
		e.Resume(ctx)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-tick.C:
		}
	}
}

// Resume submits every pending claim once. A claim is submitted under its
// own ID, so a claim whose earlier submission committed before a crash is
// recognised by the contract (a duplicate) and not recorded twice.
func (e *Engine) Resume(ctx context.Context) {
	pending, err := e.store.ClaimsByStatus(outbox.ClaimPending)
	if err != nil {
		e.log.Error("list pending claims", slog.Any("error", err))
		return
	}
	for _, c := range pending {
		if ctx.Err() != nil {
			return
		}
		e.submit(ctx, c)
	}
}

func (e *Engine) submit(ctx context.Context, c outbox.ClaimRecord) {
	photos := make([]string, len(c.Photos))
	for i, p := range c.Photos {
		photos[i] = p.SHA256
	}
	sctx, cancel := context.WithTimeout(ctx, e.cfg.SubmitTimeout)
	defer cancel()
	txID, err := e.ledger.OpenClaim(sctx, c.ShipmentID, shipment.NewClaim{ID: c.ID, Category: shipment.ClaimCategory(c.Category),
		WordsSHA256: c.WordsSHA256, PhotoSHA256s: photos})
	now := e.cfg.Now().UTC()
	if err != nil {
		// A refusal by the contract (a domain code) will not change on
		// retry; anything else (the network, the peers) may.
		refused := shipment.ErrorCode(err) != ""
		c, uerr := e.store.UpdateClaim(c.ID, func(r *outbox.ClaimRecord) {
			r.Attempts++
			if refused {
				r.Status, r.Reason = outbox.ClaimRefused, err.Error()
			}
		})
		if uerr != nil {
			e.log.Error("update claim", slog.String("claim", c.ID), slog.Any("error", uerr))
			return
		}
		if !refused {
			e.log.Warn("claim not yet on the ledger; will retry", slog.String("claim", c.ID), slog.Int("attempts", c.Attempts), slog.Any("error", err))
			return
		}
		e.log.Error("the contract refused a claim", slog.String("claim", c.ID), slog.String("shipment", c.ShipmentID), slog.Any("error", err))
		e.tell(ctx, c, catalog[language(c.Language)].Refused)
		return
	}
	c, err = e.store.UpdateClaim(c.ID, func(r *outbox.ClaimRecord) {
		r.Attempts++
		r.Status, r.TxID, r.RecordedAt = outbox.ClaimRecorded, txID, now
	})
	if err != nil {
		e.log.Error("update claim", slog.String("claim", c.ID), slog.Any("error", err))
		return
	}
	e.log.Info("claim on the ledger", slog.String("claim", c.ID), slog.String("shipment", c.ShipmentID), slog.String("tx", txID))
	e.tell(ctx, c, catalog[language(c.Language)].Confirmed)
}

// tell sends the buyer the outcome of a claim, if the window is open.
func (e *Engine) tell(ctx context.Context, c outbox.ClaimRecord, format string) {
	if c.ReplyTo == "" {
		return // erased
	}
	sent, err := e.send(ctx, c.ReplyTo, c.PhoneRef, whatsapp.FreeForm{Text: fmt.Sprintf(format, c.ID)})
	if err != nil {
		e.log.Error("claim confirmation", slog.String("claim", c.ID), slog.Any("error", err))
		return
	}
	if !sent {
		return // the window closed: the reference was given when the claim was made
	}
	if _, err := e.store.UpdateClaim(c.ID, func(r *outbox.ClaimRecord) { r.ConfirmedAt = e.cfg.Now().UTC() }); err != nil {
		e.log.Error("update claim", slog.String("claim", c.ID), slog.Any("error", err))
	}
}
