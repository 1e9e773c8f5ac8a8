package contract

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/shipment/plots"
)

// TransientPlots is the transient-map key that carries the plots' GeoJSON.
const TransientPlots = "plots"

// Where the EUDR plots live.
//
// The GeoJSON (geometry and producer names) is written twice, to the
// exporter's and to the buyer's implicit private data collections, and
// nowhere else. That is the "collection the two organisations hold": each
// implicit collection has exactly one member, so only the exporter's and the
// buyer's peers store the plots, and a carrier or any other member holds
// only the hashes. An explicit collection per exporter-buyer pair would do
// the same but needs a chaincode definition upgrade (approved by a majority
// of members) each time two members start trading, and the channel would
// carry one collection per pair; implicit collections exist for every
// member from the start. The transaction must be endorsed by a peer of each
// of the two organisations (each implicit collection's write is validated
// against its organisation), so the transient plots reach only those two
// peers: the gateway submits with exactly those endorsing organisations.
//
// The value stored is the canonical GeoJSON, so the hash every peer keeps
// (and the block's private write set carries) equals the SHA-256 on the
// public summary.
const (
	plotsObject = "eudr~plots" // public summary, composite [id]
	plotsPrefix = "plots~"     // private key in the implicit collections
)

func plotsKey(id string) string { return plotsPrefix + id }

// AttachPlots validates the production plots passed in the transient map
// under "plots" (a GeoJSON FeatureCollection, see package plots), stores
// their canonical form in the exporter's and the buyer's implicit
// collections and the public summary (hash, count, area, countries, codes)
// under its own key, endorsed by exporter and buyer from then on. It does
// not rewrite the shipment record, so the carrier, whose peer endorses the
// record while it holds the goods, never sees the plots. Attaching again
// replaces the plots; the summary's history keeps the earlier hashes.
func (c *Contract) AttachPlots(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	t, err := c.begin(ctx, shipment.OpAttachPlots)
	if err != nil {
		return "", err
	}
	s, err := t.loadRecord(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpAttachPlots); err != nil {
		return "", err
	}
	if s.Status == shipment.StatusCancelled {
		return "", shipment.Errorf(shipment.Conflict, "shipment %s is CANCELLED: no plots to declare", id)
	}
	tm, err := t.stub.GetTransient()
	if err != nil {
		return "", fmt.Errorf("read transient data: %w", err)
	}
	raw := tm[TransientPlots]
	if len(raw) == 0 {
		return "", shipment.Errorf(shipment.Invalid, "plots: required in the transient map (never in the arguments, which go on the block)")
	}
	col, err := plots.Decode(raw)
	if err != nil {
		return "", err
	}
	canonical := col.Canonical()
	for _, msp := range plotHolders(s) {
		if err := t.stub.PutPrivateData(implicitCollection(msp), plotsKey(id), canonical); err != nil {
			return "", fmt.Errorf("store plots of %s for %s: %w", id, msp, err)
		}
	}
	sum := col.Summarize()
	sum.AttachedAt, sum.AttachedBy, sum.AttachedTx = t.at.UTC(), t.caller.MSPID, t.stub.GetTxID()
	if err := t.putPlotsSummary(s, &sum); err != nil {
		return "", err
	}
	c.log.Info("plots attached", slog.String("shipment", id), slog.Int("plots", sum.Count))
	if err := t.emit(shipment.EventPlotsAttached, plotsEvent(shipment.EventPlotsAttached, s, t, &sum)); err != nil {
		return "", err
	}
	out, err := json.Marshal(sum)
	if err != nil {
		return "", fmt.Errorf("encode plots summary of %s: %w", id, err)
	}
	return string(out), nil
}

// plotHolders are the organisations that keep a shipment's plots.
func plotHolders(s *shipment.Shipment) []string {
	if s.Buyer == s.Exporter {
		return []string{s.Exporter}
	}
	return []string{s.Exporter, s.Buyer}
}

func (t *txn) putPlotsSummary(s *shipment.Shipment, sum *shipment.PlotsSummary) error {
	key, err := t.stub.CreateCompositeKey(plotsObject, []string{s.ID})
	if err != nil {
		return fmt.Errorf("plots key of %s: %w", s.ID, err)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return fmt.Errorf("encode plots summary of %s: %w", s.ID, err)
	}
	if err := t.stub.PutState(key, b); err != nil {
		return fmt.Errorf("write plots summary of %s: %w", s.ID, err)
	}
	holders := plotHolders(s)
	policy, err := peersPolicy(len(holders), holders)
	if err != nil {
		return fmt.Errorf("plots endorsement policy of %s: %w", s.ID, err)
	}
	if err := t.stub.SetStateValidationParameter(key, policy); err != nil {
		return fmt.Errorf("set plots endorsement policy of %s: %w", s.ID, err)
	}
	return nil
}

// plotsSummary reads the public summary, nil when no plots were attached.
func (t *txn) plotsSummary(id string) (*shipment.PlotsSummary, error) {
	key, err := t.stub.CreateCompositeKey(plotsObject, []string{id})
	if err != nil {
		return nil, fmt.Errorf("plots key of %s: %w", id, err)
	}
	b, err := t.stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("read plots summary of %s: %w", id, err)
	}
	if b == nil {
		return nil, nil
	}
	var sum shipment.PlotsSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("decode plots summary of %s: %w", id, err)
	}
	return &sum, nil
}

func plotsEvent(typ shipment.EventType, s *shipment.Shipment, t *txn, sum *shipment.PlotsSummary) shipment.Event {
	ev := shipment.NewEvent(typ, s, t.at)
	ev.By = t.caller.MSPID
	ev.ColdChain, ev.Settlement, ev.Reason = nil, nil, ""
	ev.Plots = sum
	return ev
}

// Plots returns the canonical GeoJSON of a shipment's plots to its exporter
// or buyer, read from the caller's own implicit collection (so it works on
// the caller's peer, the only one of its organisation that holds it).
func (c *Contract) Plots(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	t, err := c.begin(ctx, shipment.OpReadPlots)
	if err != nil {
		return "", err
	}
	s, err := t.loadRecord(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpReadPlots); err != nil {
		return "", err
	}
	b, err := t.stub.GetPrivateData(implicitCollection(t.caller.MSPID), plotsKey(id))
	if err != nil {
		return "", fmt.Errorf("read plots of %s: %w", id, err)
	}
	if b == nil {
		return "", shipment.Errorf(shipment.NotFound, "shipment %s has no plots", id)
	}
	return string(b), nil
}

// ErasePlots purges the plots (producer names, farm geometry: personal data
// of smallholders) from both private stores, as DeleteBuyerContact does for
// the contact; the public summary stays, marked erased.
func (c *Contract) ErasePlots(ctx contractapi.TransactionContextInterface, id string) error {
	t, err := c.begin(ctx, shipment.OpErasePlots)
	if err != nil {
		return err
	}
	s, err := t.loadRecord(id)
	if err != nil {
		return err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpErasePlots); err != nil {
		return err
	}
	sum, err := t.plotsSummary(id)
	if err != nil {
		return err
	}
	if sum == nil || sum.Erased {
		return shipment.Errorf(shipment.NotFound, "shipment %s has no plots", id)
	}
	for _, msp := range plotHolders(s) {
		coll := implicitCollection(msp)
		if err := t.stub.PurgePrivateData(coll, plotsKey(id)); err != nil {
			c.log.Warn("purge not available, deleting plots instead", slog.String("shipment", id), slog.Any("error", err))
			if err := t.stub.DelPrivateData(coll, plotsKey(id)); err != nil {
				return fmt.Errorf("delete plots of %s: %w", id, err)
			}
		}
	}
	sum.Erased = true
	if err := t.putPlotsSummary(s, sum); err != nil {
		return err
	}
	return t.emit(shipment.EventPlotsErased, plotsEvent(shipment.EventPlotsErased, s, t, sum))
}

// RecordDueDiligence records on the shipment the reference and verification
// numbers the EU information system gave the buyer's due-diligence
// statement. Any member reads them with the shipment.
func (c *Contract) RecordDueDiligence(ctx contractapi.TransactionContextInterface, id, statement string) (string, error) {
	t, err := c.begin(ctx, shipment.OpRecordDueDiligence)
	if err != nil {
		return "", err
	}
	s, err := t.load(id)
	if err != nil {
		return "", err
	}
	if err := shipment.Authorize(t.caller, s, shipment.OpRecordDueDiligence); err != nil {
		return "", err
	}
	d, err := shipment.DecodeDueDiligence([]byte(statement))
	if err != nil {
		return "", err
	}
	old := *s
	if err := shipment.RecordDueDiligence(s, d, t.caller.MSPID, t.at); err != nil {
		return "", err
	}
	ev := shipment.NewEvent(shipment.EventDDSRecorded, s, t.at)
	ev.DueDiligence = s.DueDiligence
	return t.save(&old, s, ev)
}
