package walk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/notifier/phone"
	"github.com/shiptrace/shiptrace/shipment"
)

// NewID returns prefix plus a random suffix: every run uses fresh ids on a
// ledger that never forgets.
func NewID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + strings.ToUpper(hex.EncodeToString(b))
}

// NewPhone returns a random E.164 number under the country prefix (e.g.
// "+49152"), so the notifier's per-number daily cap and pacing never
// involve another run's messages. The number is valid in its country's
// numbering plan (the notifier skips others as invalid_phone): the random
// part is as long as the country's numbers need.
func NewPhone(prefix string) string {
	for width := 8; width >= 4; width-- {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(math.Pow10(width))))
		p := fmt.Sprintf("%s%0*d", prefix, width, n.Int64())
		if _, err := phone.Parse(p); err == nil {
			return p
		}
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	return fmt.Sprintf("%s%08d", prefix, n.Int64())
}

// CreateRequest is the body of POST /v1/shipments.
type CreateRequest struct {
	shipment.NewShipment
	BuyerContact *shipment.Contact `json:"buyerContact,omitempty"`
}

// NewShipment is the README's example shipment (green coffee, Santos to
// Hamburg, 2-8 °C with a 30 min excursion allowance and a hard maximum of
// 12 °C, EUR 12,345.67), due in 30 days, with an optional buyer contact.
func NewShipment(id string, contact *shipment.Contact) CreateRequest {
	hardMax := 12.0
	return CreateRequest{
		NewShipment: shipment.NewShipment{
			ID: id, Buyer: "RetailerMSP", Carrier: "CarrierMSP", BuyerRef: "PO-" + id,
			Product:            shipment.Product{GTIN: "4006381333931", Lot: "L-42", Description: "Green coffee", Quantity: 100, Unit: "kg"},
			Origin:             shipment.Place{Name: "Santos", Country: "BR"},
			Destination:        shipment.Place{Name: "Hamburg", Country: "DE"},
			ColdChain:          shipment.ColdChainPolicy{MinC: 2, MaxC: 8, MaxExcursionMinutes: 30, HardMaxC: &hardMax},
			ExpectedDeliveryAt: time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(24 * time.Hour),
			Terms: &shipment.Terms{Currency: "EUR", InvoiceAmountMinor: 1_234_567, LatePenaltyBpsPerDay: 150,
				LatePenaltyCapBps: 1_000, BreachRefundBps: 2_500},
		},
		BuyerContact: contact,
	}
}

// Step is one write of the walk-through.
type Step struct {
	Name   string
	Member string
	TxID   string
	Block  uint64
	Status shipment.Status
	// BesideRecord: a readings batch that changed only the cold chain beside
	// the record (its sensors were registered before and it found no first
	// breach), so it is not a version in the shipment's history.
	BesideRecord bool
}

// Story is one shipment taken through the walk-through.
type Story struct {
	ID       string
	Contact  shipment.Contact
	Steps    []Step
	Final    shipment.Shipment // the record after the last step
	Readings []shipment.Reading
	// Event transactions: the writes whose events the notifier acts on.
	ShipTx, DeliverTx, BreachTx string
	breachState                 shipment.ColdChainSummary
}

// Result is the whole walk-through.
type Result struct {
	Delivered *Story // created, certificate, shipped, carrier, readings in range, retailer, delivered
	Breached  *Story // created, shipped, carrier, a reading batch that breaches, rejected
}

// Logf prints progress; nil prints nothing.
type Logf func(format string, args ...any)

// Create posts a new shipment as the exporter and expects 201 (and, with a
// contact, the contact stored). The answer is the receipt; CreateRecord
// also gets the record.
func (c *Client) Create(ctx context.Context, req CreateRequest, idemKey string) (*Receipt, error) {
	return c.create(ctx, req, idemKey, false)
}

// CreateRecord is Create with Prefer: return=representation: the answer
// carries the record as it stands after the create.
func (c *Client) CreateRecord(ctx context.Context, req CreateRequest, idemKey string) (*Receipt, error) {
	return c.create(ctx, req, idemKey, true)
}

func (c *Client) create(ctx context.Context, req CreateRequest, idemKey string, record bool) (*Receipt, error) {
	r, err := c.Expect(ctx, http.StatusCreated, "exporter", http.MethodPost, "/v1/shipments", req, writeHeader(idemKey, record))
	if err != nil {
		return nil, err
	}
	rc, err := decodeReceipt(r, record)
	if err != nil {
		return rc, err
	}
	if req.BuyerContact != nil && (rc.BuyerContact == nil || !rc.BuyerContact.Stored) {
		return rc, fmt.Errorf("create %s: buyer contact not stored: %+v", req.ID, rc.BuyerContact)
	}
	return rc, nil
}

// Act posts /v1/shipments/{id}/{action} as member and expects 200; the
// answer is the receipt (ActRecord also gets the record).
func (c *Client) Act(ctx context.Context, member, id, action string, body any, idemKey string) (*Receipt, error) {
	return c.act(ctx, member, id, action, body, idemKey, false)
}

// ActRecord is Act with Prefer: return=representation.
func (c *Client) ActRecord(ctx context.Context, member, id, action string, body any, idemKey string) (*Receipt, error) {
	return c.act(ctx, member, id, action, body, idemKey, true)
}

func (c *Client) act(ctx context.Context, member, id, action string, body any, idemKey string, record bool) (*Receipt, error) {
	r, err := c.Expect(ctx, http.StatusOK, member, http.MethodPost, "/v1/shipments/"+id+"/"+action, body, writeHeader(idemKey, record))
	if err != nil {
		return nil, err
	}
	return decodeReceipt(r, record)
}

func writeHeader(idemKey string, record bool) map[string]string {
	h := map[string]string{}
	if idemKey != "" {
		h["Idempotency-Key"] = idemKey
	}
	if record {
		maps.Copy(h, ReturnRecord)
	}
	return h
}

// decodeReceipt decodes a write's answer; asked for the record, it insists
// on getting it (the gateway declines only when its peer cannot be read).
func decodeReceipt(r *Response, record bool) (*Receipt, error) {
	var rc Receipt
	if err := r.Decode(&rc); err != nil {
		return nil, err
	}
	if record && (rc.Shipment == nil || r.Header.Get("Preference-Applied") != "return=representation") {
		return &rc, fmt.Errorf("%s %s: asked for the record, got %s (Preference-Applied %q)", r.Method, r.Path, clip(r.Body),
			r.Header.Get("Preference-Applied"))
	}
	return &rc, nil
}

// CertificateFile is the content of a shipment's certificate of origin,
// for checking it against the ledger as a person would.
func CertificateFile(id string) []byte { return []byte("certificate of origin for " + id) }

// Certificate is a certificate of origin's digest and where it is kept.
func Certificate(id string) map[string]string {
	sum := sha256.Sum256(CertificateFile(id))
	return map[string]string{"type": "certificate_of_origin", "sha256": hex.EncodeToString(sum[:]),
		"uri": "https://docs.example/coo/" + id + ".pdf"}
}

// InRange is a logger batch inside 2-8 °C: two sensors, one reading every
// 30 seconds from now on. Readings must fall inside the recorder's custody
// (which began at the hand-over just before), be no later than the
// transaction time plus 5 minutes, and carry at most milliseconds.
func InRange(now time.Time) []shipment.Reading {
	t0 := now.UTC().Truncate(time.Second).Add(time.Second) // not before the hand-over
	var out []shipment.Reading
	for i := range 6 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		out = append(out,
			shipment.Reading{SensorID: "reefer-1", Time: at, Celsius: 4.0 + 0.25*float64(i)},
			shipment.Reading{SensorID: "reefer-2", Time: at.Add(500 * time.Millisecond), Celsius: 5.5 - 0.2*float64(i)})
	}
	return out
}

// Breaching is a batch whose third reading (13.6 °C) is beyond the hard
// maximum of 12 °C: the cold chain breaches at once.
func Breaching(now time.Time) []shipment.Reading {
	t0 := now.UTC().Truncate(time.Second).Add(time.Second) // not before the hand-over
	return []shipment.Reading{
		{SensorID: "reefer-1", Time: t0, Celsius: 5.2},
		{SensorID: "reefer-1", Time: t0.Add(time.Minute), Celsius: 9.4},
		{SensorID: "reefer-1", Time: t0.Add(2 * time.Minute), Celsius: 13.6},
		{SensorID: "reefer-1", Time: t0.Add(3 * time.Minute), Celsius: 10.1},
	}
}

// Run performs the README walk-through: one shipment from creation to
// delivery with a certificate, hand-overs and readings, and a second one
// whose reading batch breaches the cold chain and which the buyer rejects.
// Both have a buyer contact with a fresh number.
func Run(ctx context.Context, c *Client, prefix string, logf Logf) (*Result, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	a := &Story{ID: NewID(prefix), Contact: shipment.Contact{Phone: NewPhone("+49152"), Name: "Anna", Language: "de", Consent: true}}
	b := &Story{ID: NewID(prefix), Contact: shipment.Contact{Phone: NewPhone("+34611"), Name: "Lucía", Language: "es", Consent: true}}

	step := func(s *Story, name, member string, rc *Receipt, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %s: %w", s.ID, name, err)
		}
		s.Steps = append(s.Steps, Step{Name: name, Member: member, TxID: rc.Transaction.ID, Block: rc.Transaction.BlockNumber, Status: rc.Result.Status,
			BesideRecord: rc.Result.Readings > 0 && !rc.Result.UpdatedRecord})
		if rc.Shipment != nil {
			s.Final = *rc.Shipment
		}
		logf("  %-9s %-26s -> %-10s v%-3d block %-4d tx %s", member, name, rc.Result.Status, rc.Result.Version, rc.Transaction.BlockNumber, short(rc.Transaction.ID))
		return nil
	}

	logf("shipment %s (buyer contact %s, %s, language %s)", a.ID, a.Contact.Name, a.Contact.Phone, a.Contact.Language)
	rc, err := c.Create(ctx, NewShipment(a.ID, &a.Contact), NewID("create"))
	if err := step(a, "create (+ buyer contact)", "exporter", rc, err); err != nil {
		return nil, err
	}
	rc, err = c.Act(ctx, "exporter", a.ID, "documents", Certificate(a.ID), "")
	if err := step(a, "attach certificate", "exporter", rc, err); err != nil {
		return nil, err
	}
	rc, err = c.Act(ctx, "exporter", a.ID, "ship", nil, "")
	if err := step(a, "ship", "exporter", rc, err); err != nil {
		return nil, err
	}
	a.ShipTx = rc.Transaction.ID
	rc, err = c.Act(ctx, "exporter", a.ID, "handover", map[string]string{"toMSP": "CarrierMSP"}, "")
	if err := step(a, "hand over to CarrierMSP", "exporter", rc, err); err != nil {
		return nil, err
	}
	a.Readings = InRange(time.Now())
	rc, err = c.Act(ctx, "carrier", a.ID, "readings", map[string]any{"readings": a.Readings}, NewID("logger-batch"))
	if err := step(a, fmt.Sprintf("upload %d readings", len(a.Readings)), "carrier", rc, err); err != nil {
		return nil, err
	}
	rc, err = c.Act(ctx, "carrier", a.ID, "handover", map[string]string{"toMSP": "RetailerMSP"}, "")
	if err := step(a, "hand over to RetailerMSP", "carrier", rc, err); err != nil {
		return nil, err
	}
	// The last write of each story asks for the record: Final.
	rc, err = c.ActRecord(ctx, "retailer", a.ID, "deliver", nil, "")
	if err := step(a, "deliver", "retailer", rc, err); err != nil {
		return nil, err
	}
	a.DeliverTx = rc.Transaction.ID

	logf("shipment %s (buyer contact %s, %s, language %s)", b.ID, b.Contact.Name, b.Contact.Phone, b.Contact.Language)
	rc, err = c.Create(ctx, NewShipment(b.ID, &b.Contact), NewID("create"))
	if err := step(b, "create (+ buyer contact)", "exporter", rc, err); err != nil {
		return nil, err
	}
	rc, err = c.Act(ctx, "exporter", b.ID, "ship", nil, "")
	if err := step(b, "ship", "exporter", rc, err); err != nil {
		return nil, err
	}
	b.ShipTx = rc.Transaction.ID
	rc, err = c.Act(ctx, "exporter", b.ID, "handover", map[string]string{"toMSP": "CarrierMSP"}, "")
	if err := step(b, "hand over to CarrierMSP", "exporter", rc, err); err != nil {
		return nil, err
	}
	b.Readings = Breaching(time.Now())
	rc, err = c.ActRecord(ctx, "carrier", b.ID, "readings", map[string]any{"readings": b.Readings}, NewID("logger-batch"))
	if err := step(b, fmt.Sprintf("upload %d readings (breach)", len(b.Readings)), "carrier", rc, err); err != nil {
		return nil, err
	}
	b.BreachTx = rc.Transaction.ID
	b.breachState = rc.Shipment.ColdChain
	logf("  cold chain %s: %s", rc.Shipment.ColdChain.State, rc.Shipment.ColdChain.BreachReason)
	rc, err = c.ActRecord(ctx, "retailer", b.ID, "reject", map[string]string{"reason": "cold chain breached in transit"}, "")
	if err := step(b, "reject", "retailer", rc, err); err != nil {
		return nil, err
	}
	return &Result{Delivered: a, Breached: b}, nil
}

func short(tx string) string {
	if len(tx) > 12 {
		return tx[:12] + "…"
	}
	return tx
}
