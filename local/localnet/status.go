package localnet

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
)

// ProcessStatus is one process of the network as `status` reports it.
type ProcessStatus struct {
	Name    string
	Kind    string
	Address string
	PID     int
	Up      bool
	Height  uint64 // channel height (nodes only; 0 if unknown)
	RSS     int64  // resident memory in bytes
	PeakRSS int64
	Note    string // why a node is not healthy, or its Raft role
}

// Status inspects every process. It never fails as a whole: problems are
// reported per process.
func (n *Network) Status(ctx context.Context) []ProcessStatus {
	var out []ProcessStatus
	for _, node := range n.Layout.Nodes() {
		out = append(out, ProcessStatus{Name: node.Name, Kind: string(node.Kind), Address: node.Address()})
	}
	st, stErr := n.LoadState()
	for _, p := range n.Layout.Peers() {
		// the server of the committed package, in its slot
		slot := ccServerSlots[0]
		if stErr == nil {
			slot = st.slotOf(st.Packages[p.Org.MSPID])
		}
		out = append(out, ProcessStatus{Name: ccServerNameAt(p, slot), Kind: "chaincode",
			Address: p.AddrOf(p.Port + slot)})
	}
	cas := map[string]topology.CA{}
	if stErr == nil && st.Crypto == CryptoCA {
		for _, ca := range n.Layout.CAs() {
			cas[ca.Name] = ca
			out = append(out, ProcessStatus{Name: ca.Name, Kind: "ca", Address: ca.URL()})
		}
	}
	health, healthCA := map[string]string{}, map[string]string{}
	if n.Services {
		if svcs, err := n.services(); err == nil {
			for _, sv := range svcs {
				health[sv.name], healthCA[sv.name] = sv.health, sv.healthCA
				out = append(out, ProcessStatus{Name: sv.name, Kind: "service", Address: sv.health})
			}
		}
	}
	nodes := n.Layout.Nodes()
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &out[i]
			pid, ok := proc.Running(n.Layout.PIDFile(s.Name))
			if !ok {
				s.Note = "not running"
				return
			}
			s.PID = pid
			s.RSS, s.PeakRSS, _ = proc.RSS(pid)
			if url, ok := health[s.Name]; ok {
				if err := httpOK(ctx, url, healthCA[s.Name]); err != nil {
					s.Note = "not answering: " + err.Error()
					return
				}
				s.Up = true
				return
			}
			if ca, ok := cas[s.Name]; ok {
				if err := caReady(ctx, ca, filepath.Join(n.Layout.CAHome(ca.Org), "ca-cert.pem")); err != nil {
					s.Note = "not answering: " + err.Error()
					return
				}
				s.Up = true
				return
			}
			if i >= len(nodes) {
				s.Up = true
				return
			}
			n.inspectNode(ctx, nodes[i], s)
		}()
	}
	wg.Wait()
	return out
}

func (n *Network) inspectNode(ctx context.Context, node topology.Node, s *ProcessStatus) {
	c, err := n.opsClient(node)
	if err == nil {
		err = c.healthy(ctx)
	}
	if err != nil {
		s.Note = "unhealthy: " + err.Error()
		return
	}
	s.Up = true
	if node.Kind == topology.Peer {
		h, err := c.peerHeight(ctx)
		if err != nil {
			s.Note = err.Error()
			return
		}
		s.Height = h
		return
	}
	ch, err := n.ordererInfo(ctx, node)
	if err != nil {
		s.Note = err.Error()
		return
	}
	s.Height = ch.Height
	s.Note = ch.ConsensusRelation + ", " + ch.Status
	if v, err := c.metric(ctx, `consensus_etcdraft_is_leader{channel="`+topology.Channel+`"}`); err == nil && v == 1 {
		s.Note += ", leader"
	}
}

// PrintStatus writes the status as a table.
func PrintStatus(w io.Writer, st []ProcessStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\tKIND\tADDRESS\tSTATE\tPID\tHEIGHT\tRSS MiB\tNOTE")
	for _, s := range st {
		state, pid, height, rss := "down", "-", "-", "-"
		if s.Up {
			state = "up"
		}
		if s.PID > 0 {
			pid = strconv.Itoa(s.PID)
			rss = fmt.Sprintf("%.0f", float64(s.RSS)/(1<<20))
		}
		if s.Height > 0 {
			height = strconv.FormatUint(s.Height, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Kind, s.Address, state, pid, height, rss, s.Note)
	}
	tw.Flush()
}
