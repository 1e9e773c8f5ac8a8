package conversation_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/wastandin"
	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/conversation"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/webhook"
	"github.com/shiptrace/shiptrace/notifier/whatsapp"
	"github.com/shiptrace/shiptrace/shipment"
)

const (
	appSecret = "conversation-app-secret"
	buyer     = "+4915123456789" // the buyer contact of the test shipments
	stranger  = "+4915199999999"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeLedger holds shipments and records OpenClaim calls; fail makes the
// next n submissions fail as the network would.
type fakeLedger struct {
	mu        sync.Mutex
	shipments map[string]*shipment.Shipment
	claims    map[string][]shipment.Claim
	submits   []shipment.NewClaim
	fail      int
	// lostAnswers commits the next n claims, then fails as if the
	// answer were lost (a crash or a timeout after the commit).
	lostAnswers int
}

func (l *fakeLedger) ReadShipment(_ context.Context, id string) (*shipment.Shipment, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.shipments[id]
	if !ok {
		return nil, shipment.Errorf(shipment.NotFound, "shipment %s does not exist", id)
	}
	c := *s
	return &c, nil
}

func (l *fakeLedger) MemberName(_ context.Context, msp string) string {
	return map[string]string{"CarrierMSP": "Atlantic Reefer Lines"}[msp]
}

func (l *fakeLedger) OpenClaim(_ context.Context, id string, c shipment.NewClaim) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.submits = append(l.submits, c)
	if l.fail > 0 {
		l.fail--
		return "", &fabric.Error{Stage: fabric.StageSubmit, Reason: fabric.ReasonUnavailable, Retryable: true, Err: errors.New("orderer unavailable")}
	}
	for _, e := range l.claims[id] {
		if e.ID == c.ID {
			return e.TxID, nil
		}
	}
	tx := "tx-" + c.ID
	l.claims[id] = append(l.claims[id], shipment.Claim{ID: c.ID, ShipmentID: id, Category: c.Category, WordsSHA256: c.WordsSHA256,
		PhotoSHA256s: c.PhotoSHA256s, TxID: tx, OpenedBy: "ExporterMSP"})
	if l.lostAnswers > 0 {
		l.lostAnswers--
		return "", &fabric.Error{Stage: fabric.StageCommitStatus, Reason: fabric.ReasonOutcomeUnknown, Retryable: true, MayHaveCommitted: true,
			Err: errors.New("commit status: deadline exceeded")}
	}
	return tx, nil
}

func (l *fakeLedger) Claims(_ context.Context, id string) ([]shipment.Claim, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]shipment.Claim(nil), l.claims[id]...), nil
}

type rig struct {
	t      *testing.T
	clock  *clock
	wa     *wastandin.Server
	store  *outbox.Store
	ledger *fakeLedger
	engine *conversation.Engine
	block  uint64
	path   string
	key    notifier.RefKey
}

// newRig wires the real parts: the stand-in over HTTP (with the rig's
// clock for its window), a real bbolt store, the WhatsApp adapter, the
// webhook handler and the engine; only the ledger is a fake.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, clock: &clock{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)},
		ledger: &fakeLedger{shipments: map[string]*shipment.Shipment{}, claims: map[string][]shipment.Claim{}}}
	r.wa = wastandin.New(wastandin.Config{Token: "tok", PhoneNumberID: "555", AppSecret: appSecret, Now: r.clock.Now})
	waSrv := httptest.NewServer(r.wa.Handler())
	t.Cleanup(func() { waSrv.Close(); r.wa.Close() })
	r.key, _ = notifier.NewRefKey([]byte(strings.Repeat("k", 32)))
	r.path = filepath.Join(t.TempDir(), "notifier.db")
	var err error
	r.store, err = outbox.Open(r.path, outbox.WithRefKey(r.key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	client := whatsapp.New(waSrv.URL, "v23.0", "555", func() (string, error) { return "tok", nil })
	r.engine = conversation.New(conversation.Config{Now: r.clock.Now, TrackingURL: "https://gw.example/track/%s", MaxPhotoBytes: 1 << 10},
		r.store, r.ledger, client, nil)
	hook := webhook.New(webhook.Config{AppSecret: appSecret, PhoneNumberID: "555", Conversation: r.engine}, r.store, discard(), nil)
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	r.wa.SetWebhookURL(hookSrv.URL)
	return r
}

// shipment puts a shipment on the fake ledger and, as the intake does for
// a buyer message, records a buyer notification to number for it.
func (r *rig) shipment(id, buyerRef string, status shipment.Status, number, lang string) {
	r.t.Helper()
	r.ledger.mu.Lock()
	r.ledger.shipments[id] = &shipment.Shipment{ID: id, BuyerRef: buyerRef, Status: status, Custodian: "CarrierMSP", Exporter: "ExporterMSP",
		Product:            shipment.Product{Description: "Green coffee " + buyerRef, Lot: "L7"},
		ExpectedDeliveryAt: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC),
		ColdChain:          shipment.ColdChainSummary{State: shipment.ColdChainOK}}
	r.ledger.mu.Unlock()
	r.block++
	n := notifier.Notification{ID: notifier.NotificationID("tx-"+id, notifier.EventShipped, notifier.RoleBuyer), TxID: "tx-" + id,
		EventType: notifier.EventShipped, Recipient: notifier.RoleBuyer, ShipmentID: id, EventTime: r.clock.Now(), Phone: number,
		Status: notifier.StatusSkipped, Reason: "test", Message: notifier.Message{Template: "shipment_shipped", Language: lang}}
	if _, err := r.store.Record(r.t.Context(), notifier.Checkpoint{Block: r.block, TxID: n.TxID},
		func(outbox.View) []notifier.Notification { return []notifier.Notification{n} }); err != nil {
		r.t.Fatal(err)
	}
}

// says posts the user's message through the stand-in's signed webhook
// and returns the free-form replies the stand-in received for it.
func (r *rig) says(in wastandin.Inbound) []wastandin.Record {
	r.t.Helper()
	before := len(r.wa.Messages())
	if _, err := r.wa.PostInboundMessage(r.t.Context(), in); err != nil {
		r.t.Fatal(err)
	}
	return r.wa.Messages()[before:]
}

// reply is the one accepted free-form reply among recs.
func (r *rig) reply(recs []wastandin.Record) wastandin.Record {
	r.t.Helper()
	if len(recs) != 1 || !recs[0].Accepted || recs[0].Type == "template" {
		r.t.Fatalf("want one accepted free-form reply, got %+v", recs)
	}
	return recs[0]
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// proofOf reads the admin API's proof of a claim.
func proofOf(t *testing.T, r *rig, id string) conversation.ClaimProof {
	t.Helper()
	srv := httptest.NewServer(conversation.ProofHandler(r.store, r.ledger, discard()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/claims/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p conversation.ClaimProof
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 200 {
		t.Fatalf("proof: %d %v", resp.StatusCode, err)
	}
	return p
}

// TestStatusOnRequestAnswersInsideTheWindow: "Wo ist meine Bestellung?"
// from the buyer of one open shipment gets its status, custodian's name,
// cold-chain verdict, expected delivery and tracking link, in a text the
// stand-in validated and accepted, addressed to the sender's wa_id; the
// Status button does the same.
func TestStatusOnRequestAnswersInsideTheWindow(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-1", "PO-4711", shipment.StatusInTransit, buyer, "de")
	rep := r.reply(r.says(wastandin.Inbound{From: buyer, Text: "¿Wo ist meine Bestellung?"}))
	for _, want := range []string{"PO-4711", "unterwegs", "Atlantic Reefer Lines", "eingehalten", "2026-12-10", "https://gw.example/track/SHP-1"} {
		if !strings.Contains(rep.Text, want) {
			t.Errorf("reply %q lacks %q", rep.Text, want)
		}
	}
	if rep.To != "4915123456789" {
		t.Errorf("reply went to %s", rep.To)
	}
	btn := r.reply(r.says(wastandin.Inbound{From: buyer, ButtonPayload: "STATUS:SHP-1", ButtonText: "Status"}))
	if !strings.Contains(btn.Text, "PO-4711") {
		t.Errorf("Status button reply %q", btn.Text)
	}
	for _, w := range []string{"status", "Where is my order?", "dónde está mi pedido", "Onde está meu pedido?"} {
		if rep := r.reply(r.says(wastandin.Inbound{From: buyer, Text: w})); !strings.Contains(rep.Text, "PO-4711") {
			t.Errorf("%q answered %q", w, rep.Text)
		}
	}
}

// TestNoFreeFormOutsideTheWindow: a message WhatsApp redelivers 25 hours
// after it was written opened a window that is already closed: nothing is
// sent (the stand-in, on the same clock, would refuse it with 131047).
// A claim confirmed after the window closed is recorded but not told.
func TestNoFreeFormOutsideTheWindow(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-1", "PO-4711", shipment.StatusInTransit, buyer, "en")
	if recs := r.says(wastandin.Inbound{From: buyer, Text: "status", At: r.clock.Now().Add(-25 * time.Hour)}); len(recs) != 0 {
		t.Fatalf("answered a message whose window had closed: %+v", recs)
	}
	r.says(wastandin.Inbound{From: buyer, Text: "status"})
	r.clock.Add(23 * time.Hour)
	if rep := r.reply(r.says(wastandin.Inbound{From: buyer, ButtonPayload: "CLAIM:SHP-1", ButtonText: "Report a problem", At: r.clock.Now().Add(-23 * time.Hour)})); !strings.Contains(rep.Text, "What is the problem") {
		t.Fatalf("inside the window: %q", rep.Text)
	}
	r.says(wastandin.Inbound{From: buyer, ReplyID: "CAT:late", ReplyTitle: "2 Late", List: true, At: r.clock.Now().Add(-23 * time.Hour)})
	r.says(wastandin.Inbound{From: buyer, Text: "It is a week late", At: r.clock.Now().Add(-23 * time.Hour)})
	r.says(wastandin.Inbound{From: buyer, ReplyID: "NOPHOTO", ReplyTitle: "No photo", At: r.clock.Now().Add(-23 * time.Hour)})
	r.ledger.fail = 1
	r.engine.Resume(t.Context())
	r.clock.Add(2 * time.Hour) // the buyer's last message is now 25 hours old
	before := len(r.wa.Messages())
	r.engine.Resume(t.Context())
	if got := r.wa.Messages()[before:]; len(got) != 0 {
		t.Fatalf("sent %+v after the window closed", got)
	}
	cs, _ := r.store.ClaimsByStatus(outbox.ClaimRecorded)
	if len(cs) != 1 || !cs[0].ConfirmedAt.IsZero() {
		t.Fatalf("claims = %+v; want one recorded, not confirmed", cs)
	}
}

// TestUnknownNumbersAreAnsweredNeutrally: a stranger, a buyer whose
// contact was erased and a buyer of a delivered shipment only get the same
// text, which names no order.
func TestUnknownNumbersAreAnsweredNeutrally(t *testing.T) {
	r := newRig(t)
	const erased, closed = "+4915111111111", "+4915122222222"
	r.shipment("SHP-E", "PO-ERASED", shipment.StatusInTransit, erased, "en")
	r.shipment("SHP-C", "PO-CLOSED", shipment.StatusDelivered, closed, "en")
	r.block++
	if _, err := r.store.Record(t.Context(), notifier.Checkpoint{Block: r.block, TxID: "tx-del"}, outbox.EraseContact("SHP-E")); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, from := range []string{stranger, erased, closed} {
		texts = append(texts, r.reply(r.says(wastandin.Inbound{From: from, Text: "where is my order"})).Text)
	}
	for _, from := range []string{stranger, erased, closed} {
		texts = append(texts, r.reply(r.says(wastandin.Inbound{From: from, Text: "hello?"})).Text)
	}
	for _, tx := range texts[1:] {
		if tx != texts[0] {
			t.Fatalf("answers differ: %q", texts)
		}
	}
	for _, leak := range []string{"PO-", "SHP-", "coffee"} {
		if strings.Contains(texts[0], leak) {
			t.Fatalf("neutral answer %q names %q", texts[0], leak)
		}
	}
	if rep := r.reply(r.says(wastandin.Inbound{From: stranger, ButtonPayload: "STATUS:SHP-C"})); rep.Text != texts[0] {
		t.Fatalf("a stranger's Status button for another's shipment: %q", rep.Text)
	}
	if rep := r.reply(r.says(wastandin.Inbound{From: stranger, ButtonPayload: "CLAIM:SHP-C"})); rep.Text != texts[0] {
		t.Fatalf("a stranger's claim button for another's shipment: %q", rep.Text)
	}
}

// TestSeveralOpenShipmentsArePicked: two open shipments are listed by
// buyer reference and product (a list the stand-in validated), another
// buyer's shipment is not; the buyer's pick gets that one's status.
func TestSeveralOpenShipmentsArePicked(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-A", "PO-A1", shipment.StatusInTransit, buyer, "es")
	r.shipment("SHP-B", "PO-B2", shipment.StatusShipped, buyer, "es")
	r.shipment("SHP-X", "PO-OTHER", shipment.StatusInTransit, stranger, "es")
	list := r.reply(r.says(wastandin.Inbound{From: buyer, Text: "estado"}))
	if list.Type != "interactive" || !strings.Contains(string(list.Body), "PICK:SHP-A") || !strings.Contains(string(list.Body), "PICK:SHP-B") ||
		strings.Contains(string(list.Body), "OTHER") || !strings.Contains(list.Text, "2 pedidos") {
		t.Fatalf("list = %s", list.Body)
	}
	if rep := r.reply(r.says(wastandin.Inbound{From: buyer, ReplyID: "PICK:SHP-B", ReplyTitle: "2 PO-B2", List: true})); !strings.Contains(rep.Text, "PO-B2") || !strings.Contains(rep.Text, "enviado") {
		t.Fatalf("picked status = %q", rep.Text)
	}
	r.reply(r.says(wastandin.Inbound{From: buyer, Text: "estado"}))
	if rep := r.reply(r.says(wastandin.Inbound{From: buyer, Text: "1"})); !strings.Contains(rep.Text, "PO-A1") {
		t.Fatalf("numbered pick = %q", rep.Text)
	}
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestAClaimEndsOnTheLedgerAsDigests: Report a problem, a category from
// the list, a description and a photo from the stand-in's media endpoint
// become a claim submitted with the digests only, once even when the
// first submission fails; the buyer gets the reference and the
// confirmation; the admin proof shows the originals matching the ledger.
// An erasure then removes the words, the photo, the window and the index.
func TestAClaimEndsOnTheLedgerAsDigests(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-1", "PO-4711", shipment.StatusDelivered, buyer, "pt_BR")
	photo := []byte("\xff\xd8\xff\xe0 crushed box")
	media := r.wa.AddMedia("image/jpeg", photo)
	big := r.wa.AddMedia("image/jpeg", make([]byte, 2<<10))

	ask := r.reply(r.says(wastandin.Inbound{From: buyer, ButtonPayload: "CLAIM:SHP-1", ButtonText: "Relatar um problema"}))
	if ask.Type != "interactive" || !strings.Contains(string(ask.Body), "CAT:damaged") {
		t.Fatalf("category question = %s", ask.Body)
	}
	r.reply(r.says(wastandin.Inbound{From: buyer, ReplyID: "CAT:damaged", ReplyTitle: "1 Danificado", List: true}))
	const words = "A caixa chegou amassada e molhada"
	askPhoto := r.reply(r.says(wastandin.Inbound{From: buyer, Text: words}))
	if !strings.Contains(string(askPhoto.Body), "NOPHOTO") {
		t.Fatalf("photo question = %s", askPhoto.Body)
	}
	if tooBig := r.reply(r.says(wastandin.Inbound{From: buyer, MediaID: big})); !strings.Contains(tooBig.Text, "grande demais") {
		t.Fatalf("a photo above the bound: %q", tooBig.Text)
	}
	received := r.reply(r.says(wastandin.Inbound{From: buyer, MediaID: media, Caption: "olha"}))
	cs, _ := r.store.ClaimsByStatus(outbox.ClaimPending)
	if len(cs) != 1 || !strings.Contains(received.Text, cs[0].ID) {
		t.Fatalf("pending claims %+v, reply %q", cs, received.Text)
	}
	id := cs[0].ID

	r.ledger.fail = 1
	r.engine.Resume(t.Context()) // the network fails: still pending
	if c, _ := r.store.GetClaim(id); c.Status != outbox.ClaimPending || c.Attempts != 1 {
		t.Fatalf("after a failed submission: %+v", c)
	}
	before := len(r.wa.Messages())
	r.engine.Resume(t.Context())
	r.engine.Resume(t.Context()) // nothing pending: no second submission
	if n := len(r.ledger.submits); n != 2 {
		t.Fatalf("%d submissions, want 2 (one failed, one recorded)", n)
	}
	for _, s := range r.ledger.submits {
		if s.ID != id {
			t.Fatalf("a retry changed the claim ID: %+v", r.ledger.submits)
		}
	}
	got := r.ledger.claims["SHP-1"]
	if len(got) != 1 || got[0].Category != shipment.ClaimDamaged || got[0].WordsSHA256 != digest([]byte(words)) ||
		len(got[0].PhotoSHA256s) != 1 || got[0].PhotoSHA256s[0] != digest(photo) {
		t.Fatalf("ledger claims = %+v", got)
	}
	b, _ := json.Marshal(r.ledger.submits)
	for _, leak := range []string{"caixa", "4915123456789", "crushed"} {
		if strings.Contains(string(b), leak) {
			t.Fatalf("submission carries %q: %s", leak, b)
		}
	}
	confirm := r.reply(r.wa.Messages()[before:])
	if !strings.Contains(confirm.Text, id) || !strings.Contains(confirm.Text, "registrada") {
		t.Fatalf("confirmation = %q", confirm.Text)
	}

	proof := proofOf(t, r, id)
	if !proof.Matches || proof.Words != words || proof.Ledger == nil || proof.Photos[0].ComputedSHA256 != digest(photo) {
		t.Fatalf("proof = %+v", proof)
	}

	r.block++
	if _, err := r.store.Record(t.Context(), notifier.Checkpoint{Block: r.block, TxID: "tx-del"}, outbox.EraseContact("SHP-1")); err != nil {
		t.Fatal(err)
	}
	c, _ := r.store.GetClaim(id)
	p, _ := r.store.ClaimPhoto(id, digest(photo))
	last, _ := r.store.LastInbound(buyer)
	entries, _ := r.store.BuyerShipments(buyer)
	if c.Words != "" || c.ReplyTo != "" || c.ErasedAt.IsZero() || p != nil || !last.IsZero() || len(entries) != 0 {
		t.Fatalf("after erasure: claim %+v, photo %d bytes, window %s, index %v", c, len(p), last, entries)
	}
	if c.WordsSHA256 != digest([]byte(words)) || c.Status != outbox.ClaimRecorded {
		t.Fatalf("erasure lost the digests or the status: %+v", c)
	}
}

// TestARedeliveredMessageIsAnsweredOnce: Meta retries webhooks; the same
// message ID gets one reply.
func TestARedeliveredMessageIsAnsweredOnce(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-1", "PO-4711", shipment.StatusInTransit, buyer, "en")
	m := notifier.InboundMessage{From: "4915123456789", ID: "wamid.same", At: r.clock.Now(), Kind: "text", Text: "status"}
	r.wa.PostInboundMessage(t.Context(), wastandin.Inbound{From: buyer, Text: "hello"}) // opens the stand-in's window
	before := len(r.wa.Messages())
	for range 2 {
		if err := r.engine.Handle(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.wa.Messages()) - before; n != 1 {
		t.Fatalf("%d replies to one message delivered twice", n)
	}
}

// TestAClaimSurvivesACrash: the claim is in the store before it is
// submitted; a submission whose commit went through but whose answer was
// lost leaves it pending, and the next start (a new engine on the same
// store) submits it again under the same ID, which the ledger recognises:
// one claim on the ledger, recorded with the first transaction.
func TestAClaimSurvivesACrash(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-1", "PO-4711", shipment.StatusDelivered, buyer, "en")
	r.says(wastandin.Inbound{From: buyer, ButtonPayload: "CLAIM:SHP-1"})
	r.says(wastandin.Inbound{From: buyer, Text: "4"})
	r.says(wastandin.Inbound{From: buyer, Text: "Two of ten bags are missing"})
	r.says(wastandin.Inbound{From: buyer, Text: "no"})
	pending, _ := r.store.ClaimsByStatus(outbox.ClaimPending)
	if len(pending) != 1 || pending[0].Category != "missing" {
		t.Fatalf("pending = %+v", pending)
	}
	r.ledger.lostAnswers = 1
	r.engine.Resume(t.Context()) // commits, then "crashes" before learning it
	if c, _ := r.store.GetClaim(pending[0].ID); c.Status != outbox.ClaimPending {
		t.Fatalf("after a lost answer: %s", c.Status)
	}
	// The process ends; a new one opens the same file.
	if err := r.store.Close(); err != nil {
		t.Fatal(err)
	}
	reopened, err := outbox.Open(r.path, outbox.WithRefKey(r.key))
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	client := whatsapp.New("http://127.0.0.1:1", "v23.0", "555", func() (string, error) { return "tok", nil })
	restarted := conversation.New(conversation.Config{Now: r.clock.Now}, reopened, r.ledger, client, nil)
	restarted.Resume(t.Context())
	c, _ := reopened.GetClaim(pending[0].ID)
	if c.Status != outbox.ClaimRecorded || c.TxID != "tx-"+c.ID || len(r.ledger.claims["SHP-1"]) != 1 || len(r.ledger.submits) != 2 {
		t.Fatalf("after the restart: %+v; ledger %+v; %d submissions", c, r.ledger.claims["SHP-1"], len(r.ledger.submits))
	}
}

// TestABrazilianWaIDFindsItsNumber: the exporter recorded the number with
// the ninth digit; WhatsApp's messages come from the wa_id without it. The
// index holds every form of the number, so the buyer is found and the
// reply goes to the wa_id.
func TestABrazilianWaIDFindsItsNumber(t *testing.T) {
	r := newRig(t)
	r.shipment("SHP-BR", "PO-BR-1", shipment.StatusInTransit, "+5511987654321", "pt_BR")
	rep := r.reply(r.says(wastandin.Inbound{From: "+5511987654321", Text: "Cadê meu pedido?"}))
	if !strings.Contains(rep.Text, "PO-BR-1") || !strings.Contains(rep.Text, "em trânsito") || rep.To != "551187654321" {
		t.Fatalf("reply to %s: %q", rep.To, rep.Text)
	}
}
