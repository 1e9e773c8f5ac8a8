package testnet

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"google.golang.org/protobuf/proto"
)

// ScanBlocks reads every block of the channel from the exporter's peer
// through the deliver service and returns the needles found in any block's
// bytes (transactions, their arguments, results, write sets, private
// write-set hashes and events), and how many blocks it read: the tests
// that personal data never reaches the ledger.
func (n *Network) ScanBlocks(t testing.TB, needles []string) (found []string, blocks uint64) {
	t.Helper()
	network := n.Gateway(t, "ExporterMSP").GetNetwork(n.Profile.Channel)
	var height uint64
	for _, p := range n.Status(t) {
		if p.Kind == "peer" && p.Height > height {
			height = p.Height
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	events, err := network.BlockEvents(ctx, client.WithStartBlock(0))
	if err != nil {
		t.Fatalf("block events: %v", err)
	}
	seen := map[string]bool{}
	for b := range events {
		raw, err := proto.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range needles {
			if bytes.Contains(raw, []byte(s)) {
				seen[s] = true
			}
		}
		blocks++
		if b.GetHeader().GetNumber()+1 >= height {
			break
		}
	}
	for _, s := range needles {
		if seen[s] {
			found = append(found, s)
		}
	}
	return found, blocks
}
