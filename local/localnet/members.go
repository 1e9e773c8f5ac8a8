package localnet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/shipment"
)

// localMembers is the member registry of the local consortium. Each
// organisation is registered in every capacity so that tests can place any
// member in any position on a shipment (test/identity walks every role of
// every organisation through every position); a production consortium
// registers each member only in what it is (network/README.md, "Members").
func (n *Network) localMembers() shipment.Members {
	m := shipment.Members{Sequence: 1}
	for _, p := range n.Layout.Peers() {
		m.Members = append(m.Members, shipment.Member{MSPID: p.Org.MSPID, Name: strings.TrimSuffix(p.Org.Name, "Org"),
			Capacities: []shipment.Capacity{shipment.CapacityCarrier, shipment.CapacityExporter, shipment.CapacityRetailer}})
	}
	return m
}

// CommitMembers records the consortium's first member set on the ledger the
// way separate companies would: each organisation's admin approves it with
// its own identity, then one of them commits it. Without a registry the
// contract refuses every shipment (it cannot tell a member from a typo).
// It does nothing when a registry is already committed.
func (n *Network) CommitMembers(ctx context.Context) error {
	peers := n.Layout.Peers()
	if _, err := n.invokeAsAdmin(ctx, peers[0], true, "Members"); err == nil {
		return nil
	} else if !strings.Contains(err.Error(), "NOT_FOUND") {
		return fmt.Errorf("read the member registry: %w", err)
	}
	return n.voteMembers(ctx, peers, n.localMembers(), "the consortium's first")
}

// invokeAsAdmin calls the contract as p's organisation admin with the peer
// CLI: a query on p's peer, or a transaction endorsed by every peer and
// awaited until committed.
func (n *Network) invokeAsAdmin(ctx context.Context, p topology.Node, query bool, fn string, args ...string) (string, error) {
	input, err := json.Marshal(map[string][]string{"Args": append([]string{fn}, args...)})
	if err != nil {
		return "", err
	}
	cli := []string{"chaincode", "query", "-C", topology.Channel, "-n", topology.Chaincode, "-c", string(input)}
	if !query {
		cli = []string{"chaincode", "invoke", "-C", topology.Channel, "-n", topology.Chaincode, "-c", string(input), "--waitForEvent"}
		for _, peer := range n.Layout.Peers() {
			cli = append(cli, "--peerAddresses", peer.Address(), "--tlsRootCertFiles", n.Layout.TLSCACert(peer.Org))
		}
		cli = append(cli, n.ordererClientArgs(p)...)
	}
	var out []byte
	err = retry(ctx, 60*time.Second, func(ctx context.Context) error {
		var err error
		out, err = n.run(ctx, n.adminEnv(p), "peer", cli...)
		if err != nil && strings.Contains(err.Error(), "NOT_FOUND") {
			return &permanentError{err} // an answer from the contract, not a node still starting
		}
		return err
	})
	return string(out), err
}

// memberRegistry reads the contract's committed member registry as p's
// organisation's admin.
func (n *Network) memberRegistry(ctx context.Context, p topology.Node) (shipment.Consortium, error) {
	var cur shipment.Consortium
	out, err := n.invokeAsAdmin(ctx, p, true, "Members")
	if err != nil {
		return cur, fmt.Errorf("read the member registry: %w", err)
	}
	if err := json.Unmarshal([]byte(out), &cur); err != nil {
		return cur, fmt.Errorf("decode the member registry: %w", err)
	}
	return cur, nil
}

// voteMembers puts the member set next to the contract's vote: each
// voter's organisation admin approves it with its own identity, one step
// each as separate companies would, then the first voter commits it. what
// says in the steps what the set changes.
func (n *Network) voteMembers(ctx context.Context, voters []topology.Node, next shipment.Members, what string) error {
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	for _, p := range voters {
		if err := n.step(fmt.Sprintf("approve member set %d (%s) as %s's admin", next.Sequence, what, p.Org.MSPID), func() error {
			_, err := n.invokeAsAdmin(ctx, p, false, "ApproveMembers", string(body))
			return err
		}); err != nil {
			return err
		}
	}
	return n.step(fmt.Sprintf("commit member set %d", next.Sequence), func() error {
		_, err := n.invokeAsAdmin(ctx, voters[0], false, "CommitMembers", string(body))
		return err
	})
}
