// Package contract is the Fabric face of the shiptrace rules: it reads the
// caller and the transaction time from Fabric, loads and stores shipments,
// and emits one event per change. The rules themselves live in package
// shipment.
package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
)

// Name is the chaincode name on the channel.
const Name = "shiptrace"

// TransientContact is the transient-map key that carries the buyer contact.
const TransientContact = "buyerContact"

// Contract implements the shiptrace transactions. Arguments and results are
// JSON strings; refusals are *shipment.Error values, which the peer returns as
// "CODE: message".
type Contract struct {
	contractapi.Contract
	log       *slog.Logger
	now       func() time.Time
	tolerance time.Duration
	packageID string // the chaincode package this server runs for (CHAINCODE_ID)
}

// Option configures the contract.
type Option func(*Contract)

// WithClock sets the endorsing peer's clock and how far a write's
// transaction time may be from it (shipment.DefaultClockTolerance unless
// set). Tests use it to play the peer's clock.
func WithClock(now func() time.Time, tolerance time.Duration) Option {
	return func(c *Contract) { c.now, c.tolerance = now, tolerance }
}

// WithPackageID names the chaincode package this server runs for (its
// CHAINCODE_ID), which ContractVersion returns: after an upgrade, a read shows
// which package's server answered.
func WithPackageID(id string) Option {
	return func(c *Contract) { c.packageID = id }
}

// New returns the contract; log receives operational messages only (never
// personal data).
func New(log *slog.Logger, opts ...Option) *Contract {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Contract{log: log, now: time.Now, tolerance: shipment.DefaultClockTolerance}
	for _, o := range opts {
		o(c)
	}
	c.Name = ""
	c.Info.Title = "shiptrace"
	c.Info.Version = "1.0.0"
	return c
}

// txn bundles what every transaction needs from Fabric.
type txn struct {
	stub   shim.ChaincodeStubInterface
	caller shipment.Caller
	at     time.Time
}

// begin reads the caller and the time, and refuses op at once when the
// caller's role does not allow it, before any state is read. A write whose
// transaction time is off this peer's clock is refused too: the submitter
// sets that time, and settlement and custody are decided on it.
func (c *Contract) begin(ctx contractapi.TransactionContextInterface, op shipment.Operation) (*txn, error) {
	stub := ctx.GetStub()
	ci := ctx.GetClientIdentity()
	msp, err := ci.GetMSPID()
	if err != nil {
		return nil, fmt.Errorf("read caller MSP ID: %w", err)
	}
	role, _, err := ci.GetAttributeValue(shipment.RoleAttribute)
	if err != nil {
		return nil, fmt.Errorf("read caller role attribute: %w", err)
	}
	cert, err := ci.GetX509Certificate()
	if err != nil {
		return nil, fmt.Errorf("read caller certificate: %w", err)
	}
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, fmt.Errorf("read transaction time: %w", err)
	}
	caller := shipment.Caller{MSPID: msp, Role: role, ID: cert.Subject.CommonName}
	if err := shipment.AuthorizeRole(caller, op); err != nil {
		return nil, err
	}
	at := ts.AsTime().UTC()
	if op.Writes() {
		if err := shipment.CheckTxTime(at, c.now(), c.tolerance); err != nil {
			return nil, err
		}
	}
	return &txn{stub: stub, caller: caller, at: at}, nil
}

// load reads a shipment, or fails with NOT_FOUND.
func (t *txn) load(id string) (*shipment.Shipment, error) {
	s, err := t.loadRecord(id)
	if err != nil {
		return nil, err
	}
	if s.ColdChain, err = newLedgerColdChain(t.stub, id).summary(s.ColdChainVerdict); err != nil {
		return nil, err
	}
	return s, nil
}

// loadRecord reads the shipment record alone, without its cold chain: what
// RecordReadings needs, which must not read the other sensors' keys (their
// batches write them, and a read of a key another transaction in the same
// block writes would make Fabric refuse this one).
func (t *txn) loadRecord(id string) (*shipment.Shipment, error) {
	if err := shipment.ValidateID(id); err != nil {
		return nil, err
	}
	key, err := shipmentKey(t.stub, id)
	if err != nil {
		return nil, err
	}
	b, err := t.stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("read shipment %s: %w", id, err)
	}
	if b == nil {
		return nil, shipment.Errorf(shipment.NotFound, "shipment %s does not exist", id)
	}
	var s shipment.Shipment
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode shipment %s: %w", id, err)
	}
	return &s, nil
}

// save writes s, keeps its index entries in step with old (nil on create),
// sets the key-level endorsement policy when the parties holding it change,
// and emits the event. It is the only path that writes a shipment, so every
// change gets exactly one event and one more version. It returns the
// write's Receipt.
func (t *txn) save(old, s *shipment.Shipment, ev shipment.Event) (string, error) {
	key, err := shipmentKey(t.stub, s.ID)
	if err != nil {
		return "", err
	}
	s.UpdatedTx = t.stub.GetTxID()
	s.Version = 1
	if old != nil {
		s.Version = old.Version + 1
	}
	// The per-sensor cold chain is not part of the stored record: it lives
	// under the sensor keys (see readings.go), so readings rarely rewrite
	// the record; only the verdict is stored in it.
	stored := *s
	stored.ColdChain = shipment.ColdChainSummary{}
	b, err := json.Marshal(stored)
	if err != nil {
		return "", fmt.Errorf("encode shipment %s: %w", s.ID, err)
	}
	if err := t.stub.PutState(key, b); err != nil {
		return "", fmt.Errorf("write shipment %s: %w", s.ID, err)
	}
	if err := t.reindex(old, s); err != nil {
		return "", err
	}
	if old == nil || !slices.Equal(old.Endorsers(), s.Endorsers()) {
		if err := t.setShipmentEndorsers(key, s); err != nil {
			return "", err
		}
	}
	if err := t.emit(ev.Type, ev); err != nil {
		return "", err
	}
	return t.receipt(s).encode()
}

// reindex deletes index entries of old that s no longer has and adds the new
// ones, in a fixed order.
func (t *txn) reindex(old, s *shipment.Shipment) error {
	before, err := indexKeys(t.stub, old)
	if err != nil {
		return err
	}
	after, err := indexKeys(t.stub, s)
	if err != nil {
		return err
	}
	for _, k := range before {
		if !slices.Contains(after, k) {
			if err := t.stub.DelState(k); err != nil {
				return fmt.Errorf("delete index entry of %s: %w", s.ID, err)
			}
		}
	}
	for _, k := range after {
		if !slices.Contains(before, k) {
			if err := t.stub.PutState(k, indexValue); err != nil {
				return fmt.Errorf("write index entry of %s: %w", s.ID, err)
			}
		}
	}
	return nil
}

// setEndorsers makes the shipment key require endorsement by the peers of
// every party to it: exporter, buyer and, while a carrier holds the goods,
// that carrier. So no organisation changes a shipment alone, and every
// change, including those that move money (delivery, rejection, overdue,
// breach), is endorsed by the peer of the party it costs, which runs the
// same rules on its own clock. See chaincode/README.md, "Trust matrix".
//
// Every sensor summary gets the same policy as the record (which holds the
// verdict): they decide the breach, which refunds the buyer at the
// exporter's cost, so they must be as hard to change as the record.
func (t *txn) setShipmentEndorsers(key string, s *shipment.Shipment) error {
	keys := []string{key}
	for _, id := range s.ColdChainVerdict.Sensors {
		k, err := sensorKey(t.stub, s.ID, id)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := t.setEndorsers(k, s); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) setEndorsers(key string, s *shipment.Shipment) error {
	orgs := s.Endorsers()
	policy, err := peersPolicy(len(orgs), orgs)
	if err != nil {
		return fmt.Errorf("key endorsement policy for %s: %w", s.ID, err)
	}
	if err := t.stub.SetStateValidationParameter(key, policy); err != nil {
		return fmt.Errorf("set key endorsement policy for %s: %w", s.ID, err)
	}
	return nil
}

// emit sets the transaction's one chaincode event, named by its type.
func (t *txn) emit(typ shipment.EventType, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", typ, err)
	}
	if err := t.stub.SetEvent(string(typ), b); err != nil {
		return fmt.Errorf("set event %s: %w", typ, err)
	}
	return nil
}

// CreateShipment records a new shipment; the caller's organisation becomes its
// exporter. The buyer contact is not accepted here: a transaction that writes
// public state needs a majority of organisations to endorse it, and the
// contact must reach only the exporter's peers. Send it with SetBuyerContact.
func (c *Contract) CreateShipment(ctx contractapi.TransactionContextInterface, shipmentJSON string) (string, error) {
	t, err := c.begin(ctx, shipment.OpCreate)
	if err != nil {
		return "", err
	}
	if tm, err := t.stub.GetTransient(); err == nil && len(tm[TransientContact]) > 0 {
		return "", shipment.Errorf(shipment.Invalid, "buyerContact: send the contact with SetBuyerContact, endorsed by your organisation only, after CreateShipment")
	}
	n, err := shipment.DecodeNewShipment([]byte(shipmentJSON))
	if err != nil {
		return "", err
	}
	members, err := t.members()
	if err != nil {
		return "", err
	}
	s, err := shipment.Create(n, t.caller, t.at, members)
	if err != nil {
		return "", err
	}
	key, err := shipmentKey(t.stub, s.ID)
	if err != nil {
		return "", err
	}
	if b, err := t.stub.GetState(key); err != nil {
		return "", fmt.Errorf("read shipment %s: %w", s.ID, err)
	} else if b != nil {
		return "", shipment.Errorf(shipment.Conflict, "shipment %s already exists", s.ID)
	}
	return t.save(nil, s, shipment.NewEvent(shipment.EventCreated, s, t.at))
}

// ReadShipment returns the public record of a shipment, with
// hasBuyerContact telling whether a buyer contact is stored (read from the
// private data hash, never the contact).
func (c *Contract) ReadShipment(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	t, err := c.begin(ctx, shipment.OpRead)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpRead); err != nil {
		return "", err
	}
	// Every peer of the channel holds the hashes of every collection's keys,
	// so any member can learn, without the contact itself, whether the buyer
	// can still be reached: the public tracking page stops working once the
	// contact is erased (a purge removes the hash too).
	hash, err := t.stub.GetPrivateDataHash(implicitCollection(s.Exporter), contactKey(id))
	if err != nil {
		return "", fmt.Errorf("look up buyer contact of %s: %w", id, err)
	}
	s.HasBuyerContact = hash != nil
	if s.Plots, err = t.plotsSummary(id); err != nil {
		return "", err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode shipment %s: %w", id, err)
	}
	return string(b), nil
}

// change runs one state transition: load, apply the rule, save with its event.
func (c *Contract) change(ctx contractapi.TransactionContextInterface, op shipment.Operation, id string, evType shipment.EventType,
	apply func(t *txn, s *shipment.Shipment) error, decorate func(ev *shipment.Event, old *shipment.Shipment)) (string, error) {
	t, err := c.begin(ctx, op)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	old := *s
	if err := apply(t, s); err != nil {
		return "", err
	}
	ev := shipment.NewEvent(evType, s, t.at)
	if decorate != nil {
		decorate(&ev, &old)
	}
	return t.save(&old, s, ev)
}

// AttachDocument adds a document's type and SHA-256 digest to a shipment.
func (c *Contract) AttachDocument(ctx contractapi.TransactionContextInterface, id string, documentJSON string) (string, error) {
	var doc shipment.Document
	return c.change(ctx, shipment.OpAttachDocument, id, shipment.EventDocumentAttached, func(t *txn, s *shipment.Shipment) error {
		if err := shipment.Authorize(t.caller, s, shipment.OpAttachDocument); err != nil {
			return err
		}
		d, err := shipment.DecodeDocument([]byte(documentJSON))
		if err != nil {
			return err
		}
		if err := s.AttachDocument(t.caller, t.at, d); err != nil {
			return err
		}
		doc = s.Documents[len(s.Documents)-1]
		return nil
	}, func(ev *shipment.Event, _ *shipment.Shipment) { ev.Document = &doc })
}

// Ship marks a shipment dispatched by its exporter.
func (c *Contract) Ship(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return c.change(ctx, shipment.OpShip, id, shipment.EventShipped, func(t *txn, s *shipment.Shipment) error {
		return s.Ship(t.caller, t.at)
	}, nil)
}

// HandOver passes custody of a shipment to the organisation toMSP.
func (c *Contract) HandOver(ctx contractapi.TransactionContextInterface, id string, toMSP string) (string, error) {
	return c.change(ctx, shipment.OpHandOver, id, shipment.EventCustodyTransfered, func(t *txn, s *shipment.Shipment) error {
		members, err := t.members()
		if err != nil {
			return err
		}
		return s.HandOver(t.caller, t.at, toMSP, members)
	}, func(ev *shipment.Event, old *shipment.Shipment) { ev.FromCustodian = old.Custodian })
}

// Deliver records the buyer's confirmation of delivery and the settlement.
func (c *Contract) Deliver(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return c.change(ctx, shipment.OpDeliver, id, shipment.EventDelivered, func(t *txn, s *shipment.Shipment) error {
		return s.Deliver(t.caller, t.at)
	}, nil)
}

// Reject records the buyer's refusal of a shipment and the settlement.
func (c *Contract) Reject(ctx contractapi.TransactionContextInterface, id string, reason string) (string, error) {
	return c.change(ctx, shipment.OpReject, id, shipment.EventRejected, func(t *txn, s *shipment.Shipment) error {
		return s.Reject(t.caller, t.at, reason)
	}, nil)
}

// Cancel withdraws a shipment that has not been shipped.
func (c *Contract) Cancel(ctx contractapi.TransactionContextInterface, id string, reason string) (string, error) {
	return c.change(ctx, shipment.OpCancel, id, shipment.EventCancelled, func(t *txn, s *shipment.Shipment) error {
		return s.Cancel(t.caller, t.at, reason)
	}, nil)
}

// FlagOverdue marks a shipment past its expected delivery time.
func (c *Contract) FlagOverdue(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return c.change(ctx, shipment.OpFlagOverdue, id, shipment.EventOverdue, func(t *txn, s *shipment.Shipment) error {
		return s.FlagOverdue(t.caller, t.at)
	}, nil)
}

// ReadingsColdChain is the shipment-level verdict after a readings batch.
type ReadingsColdChain struct {
	State        shipment.ColdChainState `json:"state"` // BREACHED, or the state of the batch's sensors
	BreachedAt   time.Time               `json:"breachedAt,omitzero"`
	BreachReason string                  `json:"breachReason,omitempty"`
}

// RecordReadings stores a batch of temperature readings and updates the
// summaries of the batch's sensors. It reads the shipment record and writes
// only the batch's chunks and its sensors' keys (and the record when a
// sensor is new or the first breach is found), so batches of registered
// sensors of one shipment commit in the same block. The same batch uploaded
// again is recognised by its digest and changes nothing, so clients may
// retry safely. It returns a Receipt with what the batch did; a role that
// may not read shipments learns only that it is on the ledger.
func (c *Contract) RecordReadings(ctx contractapi.TransactionContextInterface, id string, readingsJSON string) (string, error) {
	t, err := c.begin(ctx, shipment.OpRecordReadings)
	if err != nil {
		return "", err
	}
	s, err := t.loadRecord(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpRecordReadings); err != nil {
		return "", err
	}
	batch, err := shipment.DecodeReadings([]byte(readingsJSON))
	if err != nil {
		return "", err
	}
	sorted := slices.Clone(batch)
	slices.SortFunc(sorted, shipment.CompareReadings)
	chunks, err := encodeChunks(id, sorted, t.caller)
	if err != nil {
		return "", err
	}
	if b, err := t.stub.GetState(chunks[0].key); err != nil {
		return "", fmt.Errorf("record readings for %s: %w", id, err)
	} else if b != nil {
		// Already recorded: a retry of a committed upload.
		r := t.receipt(s)
		r.Readings, r.Duplicate = len(batch), true
		return r.encode()
	}
	store := newLedgerColdChain(t.stub, id)
	old := *s
	ch, err := s.RecordReadings(t.caller, t.at, batch, store)
	if err != nil {
		return "", err
	}
	for _, chunk := range chunks {
		if err := t.stub.PutState(chunk.key, chunk.value); err != nil {
			return "", fmt.Errorf("record readings for %s: %w", id, err)
		}
	}
	for _, st := range ch.Sensors {
		span := store.spanMs[st.ID]
		for _, chunk := range chunks {
			if slices.Contains(chunk.sensors, st.ID) {
				span = max(span, chunk.spanMs)
			}
		}
		if err := t.putSensor(s, storedSensor{SensorSummary: st, ChunkSpanMs: span}, !slices.Contains(old.ColdChainVerdict.Sensors, st.ID)); err != nil {
			return "", err
		}
	}

	evType := shipment.EventReadingsRecorded
	if ch.Result.Breached {
		evType = shipment.EventColdChainBreached
	}
	// The event's cold chain covers the batch's sensors and the verdict.
	s.ColdChain = shipment.Summarize(s.ColdChainVerdict, ch.Sensors)
	ev := shipment.NewEvent(evType, s, t.at)
	ev.By = t.caller.MSPID
	ev.Readings = ch.Result.Accepted
	if ch.RecordChanged {
		// A new sensor or the first breach: the record holds the verdict.
		if _, err := t.save(&old, s, ev); err != nil {
			return "", err
		}
	} else if err := t.emit(ev.Type, ev); err != nil {
		return "", err
	}
	r := t.receipt(s)
	r.Readings, r.Late = ch.Result.Accepted, ch.Result.Late
	if shipment.RoleAllows(t.caller.Role, shipment.OpRead) {
		// A sensor's role may not read shipments: it learns that its batch
		// is recorded, nothing of the verdict.
		v := s.ColdChainVerdict
		r.UpdatedRecord = ch.RecordChanged
		r.ColdChain = &ReadingsColdChain{State: s.ColdChain.State, BreachedAt: v.BreachedAt, BreachReason: v.BreachReason}
	}
	return r.encode()
}

// putSensor writes a sensor's summary; a sensor new to the shipment gets
// the shipment's key-level policy in the same transaction, which also
// rewrites the record (guarded since creation) to register it, so every
// party's peer endorsed its creation.
func (t *txn) putSensor(s *shipment.Shipment, st storedSensor, isNew bool) error {
	key, err := sensorKey(t.stub, s.ID, st.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode sensor %s of %s: %w", st.ID, s.ID, err)
	}
	if err := t.stub.PutState(key, b); err != nil {
		return fmt.Errorf("write sensor %s of %s: %w", st.ID, s.ID, err)
	}
	if isNew {
		return t.setEndorsers(key, s)
	}
	return nil
}

// SetBuyerContact stores the buyer contact, passed in the transient map under
// "buyerContact", in the exporter's implicit private data collection. It
// writes nothing public, so only the exporter's organisation endorses it:
// submit it with the exporter as the only endorsing organisation.
func (c *Contract) SetBuyerContact(ctx contractapi.TransactionContextInterface, id string) error {
	t, err := c.begin(ctx, shipment.OpSetContact)
	if err != nil {
		return err
	}
	s, err := t.load(id)
	if err != nil {
		return err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpSetContact); err != nil {
		return err
	}
	tm, err := t.stub.GetTransient()
	if err != nil {
		return fmt.Errorf("read transient data: %w", err)
	}
	raw, ok := tm[TransientContact]
	if !ok || len(raw) == 0 {
		return shipment.Errorf(shipment.Invalid, "buyerContact: required in the transient map")
	}
	contact, err := shipment.DecodeContact(raw)
	if err != nil {
		return err
	}
	rec, err := t.sealContact(contact)
	if err != nil {
		return err
	}
	if err := t.stub.PutPrivateData(implicitCollection(s.Exporter), contactKey(id), rec); err != nil {
		return fmt.Errorf("store buyer contact of %s: %w", id, err)
	}
	return t.emit(shipment.EventContactUpdated, contactEvent(shipment.EventContactUpdated, s, t))
}

// storedContact is the private record. The salt makes the value's hash, which
// is public on the channel, impossible to confirm by guessing phone numbers.
type storedContact struct {
	Salt    string           `json:"salt"`
	Contact shipment.Contact `json:"contact"`
}

// sealContact salts the contact with a digest of the proposal signature: it is
// known only to the client and the endorsing peers (it is not in the block),
// and the same on every endorser, so endorsement stays deterministic.
func (t *txn) sealContact(c shipment.Contact) ([]byte, error) {
	sp, err := t.stub.GetSignedProposal()
	if err != nil {
		return nil, fmt.Errorf("read signed proposal: %w", err)
	}
	sum := sha256.Sum256(append([]byte("shiptrace-contact-salt:"), sp.GetSignature()...))
	b, err := json.Marshal(storedContact{Salt: hex.EncodeToString(sum[:]), Contact: c})
	if err != nil {
		return nil, fmt.Errorf("encode buyer contact: %w", err)
	}
	return b, nil
}

func contactEvent(typ shipment.EventType, s *shipment.Shipment, t *txn) shipment.Event {
	ev := shipment.NewEvent(typ, s, t.at)
	ev.By = t.caller.MSPID
	ev.ColdChain, ev.Settlement, ev.Reason = nil, nil, ""
	return ev
}

// BuyerContact returns the buyer contact to the shipment's exporter.
func (c *Contract) BuyerContact(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	t, err := c.begin(ctx, shipment.OpReadContact)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpReadContact); err != nil {
		return "", err
	}
	b, err := t.stub.GetPrivateData(implicitCollection(s.Exporter), contactKey(id))
	if err != nil {
		return "", fmt.Errorf("read buyer contact of %s: %w", id, err)
	}
	if b == nil {
		return "", shipment.Errorf(shipment.NotFound, "shipment %s has no buyer contact", id)
	}
	var rec storedContact
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", fmt.Errorf("decode buyer contact of %s: %w", id, err)
	}
	out, err := json.Marshal(rec.Contact)
	if err != nil {
		return "", fmt.Errorf("encode buyer contact of %s: %w", id, err)
	}
	return string(out), nil
}

// DeleteBuyerContact erases the buyer contact (GDPR). It purges the private
// data, which removes it from the peers' private store and its history;
// where the channel does not support purging, it deletes the current value.
func (c *Contract) DeleteBuyerContact(ctx contractapi.TransactionContextInterface, id string) error {
	t, err := c.begin(ctx, shipment.OpDeleteContact)
	if err != nil {
		return err
	}
	s, err := t.load(id)
	if err != nil {
		return err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpDeleteContact); err != nil {
		return err
	}
	coll := implicitCollection(s.Exporter)
	hash, err := t.stub.GetPrivateDataHash(coll, contactKey(id))
	if err != nil {
		return fmt.Errorf("look up buyer contact of %s: %w", id, err)
	}
	if hash == nil {
		return shipment.Errorf(shipment.NotFound, "shipment %s has no buyer contact", id)
	}
	if err := t.stub.PurgePrivateData(coll, contactKey(id)); err != nil {
		c.log.Warn("purge not available, deleting buyer contact instead", slog.String("shipment", id), slog.Any("error", err))
		if err := t.stub.DelPrivateData(coll, contactKey(id)); err != nil {
			return fmt.Errorf("delete buyer contact of %s: %w", id, err)
		}
	}
	return t.emit(shipment.EventContactDeleted, contactEvent(shipment.EventContactDeleted, s, t))
}
