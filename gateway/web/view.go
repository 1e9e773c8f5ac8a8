package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

// Bounds of what one page reads, so a page costs the same whatever the
// shipment's size: history pages of 100 (the contract's maximum), readings
// pages of 1,000 (idem), provenance look-ups in parallel.
const (
	historyPages     = 3
	historyPageSize  = 100
	maxReadings      = 10000
	readingsPageSize = 1000
	provenanceAtOnce = 8
)

// errGone is every reason the page does not exist for this link: the
// shipment is unknown, refused, or its buyer contact was erased.
var errGone = errors.New("no such tracking page")

// Detail is everything the detail view shows of one shipment. It holds only
// public, non-personal data of the record; the member console can render
// the same "detail" template from it.
type Detail struct {
	Shipment  shipment.Shipment
	Names     map[string]string // MSP ID -> display name, from the member registry
	Steps     []Step
	Older     bool // the history has versions before the first step shown
	Chart     Chart
	ReadAt    time.Time
	Documents []string // SHA-256 of every document, for the file check
}

// Step is one change of the record, with its proof from the block.
type Step struct {
	Kind     string // ev.* key: created, shipped, handover, ...
	Time     time.Time
	By       string // MSP ID of the submitter
	From, To string // for a hand-over
	Detail   string // a document's type
	Proof    fabric.Provenance
}

type page[T any] struct {
	Items    []T    `json:"items"`
	Bookmark string `json:"bookmark"`
}

// loader reads a shipment's detail through one identity's peers.
type loader struct {
	ledger   Ledger
	identity string
}

func (l loader) evaluate(ctx context.Context, tx string, args ...string) ([]byte, error) {
	return l.ledger.Evaluate(ctx, fabric.Request{Identity: l.identity, Tx: tx, Args: args})
}

// shipment reads the record; a refusal by the contract (unknown, forbidden,
// invalid ID) and a record without buyer contact are errGone.
func (l loader) shipment(ctx context.Context, id string) (shipment.Shipment, error) {
	var s shipment.Shipment
	raw, err := l.evaluate(ctx, "ReadShipment", id)
	var refusal *shipment.Error
	if errors.As(err, &refusal) {
		return s, errGone
	}
	if err != nil {
		return s, fmt.Errorf("read shipment: %w", err)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("decode shipment: %w", err)
	}
	if s.ID != id || !s.HasBuyerContact {
		return s, errGone
	}
	return s, nil
}

// detail reads everything else the page shows, in parallel.
func (l loader) detail(ctx context.Context, s shipment.Shipment, now time.Time) (*Detail, error) {
	d := &Detail{Shipment: s, ReadAt: now.UTC(), Names: map[string]string{}}
	for _, doc := range s.Documents {
		d.Documents = append(d.Documents, doc.SHA256)
	}
	var (
		wg                          sync.WaitGroup
		errSteps, errRead, errNames error
		readings                    []shipment.Reading
		capped                      bool
	)
	wg.Add(3)
	go func() { defer wg.Done(); d.Steps, d.Older, errSteps = l.steps(ctx, s.ID) }()
	go func() { defer wg.Done(); readings, capped, errRead = l.readings(ctx, s.ID) }()
	go func() { defer wg.Done(); d.Names, errNames = l.names(ctx) }()
	wg.Wait()
	if err := errors.Join(errSteps, errRead, errNames); err != nil {
		return nil, err
	}
	d.Chart = newChart(s, readings, capped)
	return d, nil
}

// steps reads the record's history (oldest first, at most historyPages
// pages of the newest versions; older says there are more) and each
// change's proof.
func (l loader) steps(ctx context.Context, id string) (steps []Step, older bool, err error) {
	var entries []shipment.HistoryEntry
	bookmark := ""
	for range historyPages {
		raw, err := l.evaluate(ctx, "ShipmentHistory", id, strconv.Itoa(historyPageSize), bookmark)
		if err != nil {
			return nil, false, fmt.Errorf("read history of %s: %w", id, err)
		}
		var p page[shipment.HistoryEntry]
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, false, fmt.Errorf("decode history of %s: %w", id, err)
		}
		entries = append(entries, p.Items...)
		if bookmark = p.Bookmark; bookmark == "" {
			break
		}
	}
	older = bookmark != ""
	steps = timeline(entries, older)
	sem := make(chan struct{}, provenanceAtOnce)
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := l.ledger.Provenance(ctx, l.identity, steps[i].Proof.TxID)
			if err != nil {
				errs[i] = fmt.Errorf("proof of %s: %w", steps[i].Proof.TxID, err)
				return
			}
			steps[i].Proof = p
		}()
	}
	wg.Wait()
	return steps, older, errors.Join(errs...)
}

// timeline turns the history (newest first, as the contract pages it) into
// steps, oldest first, by comparing each version of the record with the
// one before it. When the history goes on beyond these entries (older),
// the oldest is only the base of the comparison: it is not the creation.
func timeline(newestFirst []shipment.HistoryEntry, older bool) []Step {
	var steps []Step
	var prev *shipment.Shipment
	for i := len(newestFirst) - 1; i >= 0; i-- {
		e := newestFirst[i]
		if e.IsDelete || e.Shipment == nil {
			continue
		}
		cur := e.Shipment
		if prev == nil && older {
			prev = cur
			continue
		}
		step := Step{Time: e.Time, By: e.MSPID, Proof: fabric.Provenance{TxID: e.TxID}}
		switch {
		case prev == nil:
			step.Kind = "created"
		case cur.Status != prev.Status && cur.Status == shipment.StatusShipped:
			step.Kind = "shipped"
		case cur.Status != prev.Status && cur.Status == shipment.StatusDelivered:
			step.Kind = "delivered"
		case cur.Status != prev.Status && cur.Status == shipment.StatusRejected:
			step.Kind = "rejected"
		case cur.Status != prev.Status && cur.Status == shipment.StatusCancelled:
			step.Kind = "cancelled"
		case cur.Custodian != prev.Custodian:
			step.Kind, step.From, step.To = "handover", prev.Custodian, cur.Custodian
		case cur.Overdue && !prev.Overdue:
			step.Kind = "overdue"
		case !cur.ColdChainVerdict.BreachedAt.IsZero() && prev.ColdChainVerdict.BreachedAt.IsZero():
			step.Kind, step.Time = "breached", cur.ColdChainVerdict.BreachedAt
		case len(cur.Documents) > len(prev.Documents):
			step.Kind, step.Detail = "document", cur.Documents[len(cur.Documents)-1].Type
		case len(cur.ColdChainVerdict.Sensors) > len(prev.ColdChainVerdict.Sensors):
			step.Kind = "sensor"
		default:
			step.Kind = "updated"
		}
		steps = append(steps, step)
		prev = cur
	}
	return steps
}

// readings reads the shipment's readings in time order, at most
// maxReadings; capped says there were more.
func (l loader) readings(ctx context.Context, id string) ([]shipment.Reading, bool, error) {
	var out []shipment.Reading
	bookmark := ""
	for len(out) < maxReadings {
		raw, err := l.evaluate(ctx, "Readings", id, "", "", strconv.Itoa(readingsPageSize), bookmark)
		if err != nil {
			return nil, false, fmt.Errorf("read readings of %s: %w", id, err)
		}
		var p page[shipment.Reading]
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, false, fmt.Errorf("decode readings of %s: %w", id, err)
		}
		out = append(out, p.Items...)
		if bookmark = p.Bookmark; bookmark == "" {
			return out, false, nil
		}
	}
	return out[:maxReadings], true, nil
}

// names reads the member registry's display names. A registry the
// contract does not have (or does not show this identity) leaves the MSP
// IDs as names rather than the page unavailable.
func (l loader) names(ctx context.Context) (map[string]string, error) {
	raw, err := l.evaluate(ctx, "Members")
	var refusal *shipment.Error
	if errors.As(err, &refusal) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	var c shipment.Consortium
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("decode members: %w", err)
	}
	out := make(map[string]string, len(c.Members.Members))
	for _, m := range c.Members.Members {
		out[m.MSPID] = m.Name
	}
	return out, nil
}

// ReadDetail reads a shipment's detail view as identity, for a face other
// than the public page (the member console): the same reads, without the
// public page's memo and erasure check. s is the record the caller read.
func ReadDetail(ctx context.Context, ledger Ledger, identity string, s shipment.Shipment, now time.Time) (*Detail, error) {
	return loader{ledger: ledger, identity: identity}.detail(ctx, s, now)
}
