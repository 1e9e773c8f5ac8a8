package intake

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
)

// FileEvent is one line of an event file.
type FileEvent struct {
	Block   uint64          `json:"block"`
	TxID    string          `json:"txId"`
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

// FileSource replays chaincode events from a JSON-lines file of FileEvents
// and follows it as lines are appended (like tail -f). It stands in for
// the peer where a test or a demo needs an event stream it controls; the
// checkpoint semantics are the peer's: resume after (block, txId).
type FileSource struct {
	Path string
	// Poll is how often the end of the file is re-read (100ms).
	Poll time.Duration
}

// Stream implements Source.
func (f FileSource) Stream(ctx context.Context, after notifier.Checkpoint, out chan<- notifier.ChainEvent) error {
	poll := f.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("open event file: %w", err)
	}
	defer fh.Close()
	r := bufio.NewReader(fh)
	skipping := !after.IsZero()
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			partial = append(partial, line...)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(poll):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read event file: %w", err)
		}
		line = append(partial, line...)
		partial = nil
		if len(line) <= 1 {
			continue
		}
		var fe FileEvent
		if err := json.Unmarshal(line, &fe); err != nil {
			return fmt.Errorf("event file line: %w", err)
		}
		if skipping {
			// Like the peer: start at the checkpoint's block, skip up to
			// and including its transaction.
			if fe.Block < after.Block {
				continue
			}
			if fe.Block == after.Block && after.TxID != "" {
				if fe.TxID == after.TxID {
					skipping = false
				}
				continue
			}
			skipping = false
		}
		select {
		case out <- notifier.ChainEvent{Block: fe.Block, TxID: fe.TxID, Name: fe.Name, Payload: fe.Payload}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
