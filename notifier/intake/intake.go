// Package intake feeds ledger events into the outbox. A Runner streams
// events from a Source starting after the stored checkpoint, hands them to
// a Processor (decode, filter, look up the buyer, decide, record with the
// checkpoint in one transaction) and, when the stream breaks or recording
// fails, reconnects with backoff and resumes from the checkpoint.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
)

// Source streams chaincode events that come after a checkpoint. Stream
// blocks, sending events to out in ledger order, until ctx is done or the
// stream breaks (the error says why).
type Source interface {
	Stream(ctx context.Context, after notifier.Checkpoint, out chan<- notifier.ChainEvent) error
}

// Handler records a batch of consecutive events. It either records all of
// them and advances the checkpoint to the last, or returns an error and
// records nothing.
type Handler interface {
	HandleBatch(ctx context.Context, events []notifier.ChainEvent) error
}

// Checkpointer reads the resume position.
type Checkpointer interface {
	Checkpoint() (notifier.Checkpoint, error)
}

// Runner keeps the intake going.
type Runner struct {
	Source       Source
	Handler      Handler
	Checkpointer Checkpointer
	Log          *slog.Logger
	// BackoffMin and BackoffMax bound the reconnect delay (500ms, 30s).
	BackoffMin, BackoffMax time.Duration
	// MaxBatch bounds how many already-arrived events are recorded in one
	// transaction (256). Batching is what keeps one fsync per event from
	// capping the intake rate.
	MaxBatch int
	// Connected is told when the stream is up or down (may be nil).
	Connected func(bool)
}

// Run streams until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	minB, maxB := r.BackoffMin, r.BackoffMax
	if minB <= 0 {
		minB = 500 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 30 * time.Second
	}
	if r.MaxBatch <= 0 {
		r.MaxBatch = 256
	}
	connected := r.Connected
	if connected == nil {
		connected = func(bool) {}
	}
	// Events set aside by the handler are retried next to the stream.
	if rr, ok := r.Handler.(interface{ RunRetries(context.Context) }); ok {
		done := make(chan struct{})
		go func() { defer close(done); rr.RunRetries(ctx) }()
		defer func() { <-done }()
	}
	delay := minB
	for {
		progressed, err := r.session(ctx, connected)
		connected(false)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			delay = minB
		}
		r.Log.Warn("event intake interrupted; resuming from checkpoint", slog.Any("error", err), slog.Duration("retry_in", delay))
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(delay*2, maxB)
	}
}

// session runs one stream from the stored checkpoint until it breaks.
func (r *Runner) session(ctx context.Context, connected func(bool)) (progressed bool, err error) {
	cp, err := r.Checkpointer.Checkpoint()
	if err != nil {
		return false, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan notifier.ChainEvent, r.MaxBatch)
	streamErr := make(chan error, 1)
	go func() { streamErr <- r.Source.Stream(sctx, cp, events) }()
	r.Log.Info("event intake streaming", slog.Uint64("after_block", cp.Block), slog.String("after_tx", cp.TxID))
	connected(true)

	batch := make([]notifier.ChainEvent, 0, r.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			return progressed, ctx.Err()
		case err := <-streamErr:
			// Drain what the stream delivered before it broke.
			for {
				select {
				case ev := <-events:
					batch = append(batch[:0], ev)
					if herr := r.Handler.HandleBatch(ctx, batch); herr != nil {
						return progressed, herr
					}
					progressed = true
					continue
				default:
				}
				break
			}
			if err == nil {
				err = errors.New("event stream ended")
			}
			return progressed, fmt.Errorf("event stream: %w", err)
		case ev := <-events:
			batch = append(batch[:0], ev)
		more:
			for len(batch) < r.MaxBatch {
				select {
				case ev := <-events:
					batch = append(batch, ev)
				default:
					break more
				}
			}
			if err := r.Handler.HandleBatch(ctx, batch); err != nil {
				return progressed, fmt.Errorf("record events: %w", err)
			}
			progressed = true
		}
	}
}
