package intake

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/outbox"
)

// Parker is the part of the outbox that holds events set aside.
type Parker interface {
	Park(p outbox.Parked) error
	DueParked(now time.Time, limit int) ([]outbox.Parked, error)
	UpdateParked(p outbox.Parked) error
	ResolveParked(txID string) error
	Checkpoint() (notifier.Checkpoint, error)
}

// ParkObserver is told, if the Observer implements it, when an event is
// set aside and when one is given up as a dead letter.
type ParkObserver interface {
	Parked(reason string)
	DeadLetter(eventType string)
}

func (p *Processor) attempts() int {
	if p.RetryAttempts <= 0 {
		return 8
	}
	return p.RetryAttempts
}

// backoff is exponential with equal jitter between RetryBackoffMin and
// RetryBackoffMax.
func (p *Processor) backoff(attempt int) time.Duration {
	lo, hi := p.RetryBackoffMin, p.RetryBackoffMax
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = max(lo, 5*time.Minute)
	}
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// RunRetries retries parked events as they fall due until ctx is done.
// The Runner starts it next to the stream.
func (p *Processor) RunRetries(ctx context.Context) {
	parker, ok := p.Store.(Parker)
	if !ok {
		return
	}
	tick := min(max(p.RetryBackoffMin/2, 50*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	wake := p.retrySignal()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		due, err := parker.DueParked(p.now(), 64)
		if err != nil {
			p.Log.Error("list parked events", slog.Any("error", err))
			continue
		}
		for _, pe := range due {
			if ctx.Err() != nil {
				return
			}
			if err := p.retry(ctx, parker, pe); err != nil {
				p.Log.Error("retry parked event", slog.String("tx", pe.Event.TxID), slog.Any("error", err))
			}
		}
	}
}

// retry looks the parked event's contact up again: found (or NOT_FOUND
// past the grace period) records its notifications and forgets it; a
// per-shipment error counts an attempt, and the last one makes it a dead
// letter; an unavailable source waits without counting.
//
// The lookup runs without the lock, so retries never hold the stream up
// while the peer answers. If the stream saw a contact change or erasure
// of this shipment while the lookup ran, what it read may be the erased
// contact: nothing is recorded and the event is looked up again at once.
func (p *Processor) retry(ctx context.Context, parker Parker, pe outbox.Parked) error {
	d := p.decode(pe.Event)
	if d.result != "" {
		p.mu.Lock()
		defer p.mu.Unlock()
		return parker.ResolveParked(pe.Event.TxID)
	}
	epoch := p.contactEpoch.Load()
	buyer, park, lerr, err := p.lookup(ctx, d)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.changedSince(pe.Shipment, epoch):
		return nil // still due: the next round looks it up again
	case err != nil:
		pe.NextAt = p.now().Add(p.backoff(pe.Attempts + 1))
		pe.Error = err.Error()
		return parker.UpdateParked(pe)
	case park != "":
		pe.Attempts++
		pe.Reason, pe.Error = park, lerr.Error()
		pe.NextAt = p.now().Add(p.backoff(pe.Attempts + 1))
		// NOT_FOUND ends by itself when the grace period is over.
		if park == ReasonLookupFailed && pe.Attempts >= p.attempts() {
			pe.Dead = true
			p.Log.Error("DEAD LETTER: event given up after its retries; its notifications are not sent (listed at /v1/dead-letters)",
				slog.String("tx", pe.Event.TxID), slog.String("shipment", pe.Shipment), slog.String("type", pe.Type),
				slog.Int("attempts", pe.Attempts), slog.String("error", pe.Error))
			if o, ok := p.Observer.(ParkObserver); ok {
				o.DeadLetter(pe.Type)
			}
		}
		return parker.UpdateParked(pe)
	}
	// The stream's checkpoint, unchanged: the retry records only its
	// notifications (their IDs make a second recording a no-op).
	cp, err := parker.Checkpoint()
	if err != nil {
		return err
	}
	written, err := p.Store.Record(ctx, cp, p.plan(d, buyer))
	if err != nil {
		return fmt.Errorf("record parked event: %w", err)
	}
	p.recorded(written, cp, [][2]string{{pe.Type, "recorded"}})
	p.Log.Info("parked event recorded", slog.String("tx", pe.Event.TxID), slog.String("shipment", pe.Shipment), slog.Int("attempts", pe.Attempts+1))
	return parker.ResolveParked(pe.Event.TxID)
}
