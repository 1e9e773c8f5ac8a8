package localnet

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/ccaas"
)

// ccServerSlots are the port offsets from a peer's port where its org's
// chaincode servers may listen: +3 (topology's CCServerPort, the first
// deployment's) and three more, so that an upgrade's new server runs beside
// the old one. A package label keeps its slot for the life of the network,
// because the peer keeps the connection it built at install (Fabric has no
// uninstall before 3.0); a new label takes a slot no label has yet, or else
// the slot least recently deployed to that the running version does not
// hold (labels may then share a slot; only one of them runs). In production
// each version simply gets its own address (host, port or service name);
// the slots are how one machine imitates that.
var ccServerSlots = []int{3, 7, 8, 9}

// ccServerNameAt is the process name of the org's chaincode server in a
// slot: "chaincode.exporter" in the first, "chaincode.exporter-7" in the
// one at offset +7.
func ccServerNameAt(p topology.Node, slot int) string {
	if slot == ccServerSlots[0] {
		return "chaincode." + p.Org.Label
	}
	return fmt.Sprintf("chaincode.%s-%d", p.Org.Label, slot)
}

// runningPackage is the package ID the committed definition names ("" before
// the first deployment). Every org runs the same one.
func runningPackage(st *State) string {
	for _, org := range topology.PeerOrgs() {
		if id := st.Packages[org.MSPID]; id != "" {
			return id
		}
	}
	return ""
}

func packageLabel(pkgID string) string {
	label, _, _ := strings.Cut(pkgID, ":")
	return label
}

// slotOf is the slot of a package's server (the first slot for networks
// made before slots were recorded).
func (st *State) slotOf(pkgID string) int {
	if s, ok := st.CCSlots[packageLabel(pkgID)]; ok {
		return s
	}
	return ccServerSlots[0]
}

// assignSlot returns the slot of label's servers, recording a new one. The
// running package keeps its slot; another label must not land on the
// running one's slot, since both run until the commit.
func (st *State) assignSlot(label, pkgID, running string) (int, error) {
	runSlot := st.slotOf(running)
	if running != "" && packageLabel(running) == label {
		if pkgID != running {
			return 0, fmt.Errorf("version label %s already runs as package %s, and this code packages as %s: give the new code a new version (--version)",
				label, running, pkgID)
		}
		st.CCSlots[label] = runSlot
		return runSlot, nil
	}
	if s, ok := st.CCSlots[label]; ok {
		if running != "" && s == runSlot {
			return 0, fmt.Errorf("%s was installed with its server at port offset +%d, where the running %s listens, and a peer keeps the address it built at install: deploy another version first, or this one under a new version",
				label, s, running)
		}
		st.touchSlot(label)
		return s, nil
	}
	used := map[int]bool{}
	for _, s := range st.CCSlots {
		used[s] = true
	}
	if running != "" {
		used[runSlot] = true
	}
	for _, s := range ccServerSlots {
		if !used[s] {
			st.CCSlots[label] = s
			st.touchSlot(label)
			return s, nil
		}
	}
	// Every slot has had a label: take the slot whose latest label was
	// deployed longest ago, except the running one's. Earlier labels keep
	// their entries (the peers keep the addresses they built for them), so
	// a rollback to one of them still finds its server's address.
	lastUse := map[int]int{}
	for i, l := range st.CCOrder {
		lastUse[st.CCSlots[l]] = i
	}
	best, bestUse := 0, len(st.CCOrder)+1
	for _, s := range ccServerSlots {
		if s != runSlot && lastUse[s] < bestUse {
			best, bestUse = s, lastUse[s]
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("no free chaincode server slot for %s (offsets %v)", label, ccServerSlots)
	}
	st.CCSlots[label] = best
	st.touchSlot(label)
	return best, nil
}

// touchSlot moves label to the end of the deployment order.
func (st *State) touchSlot(label string) {
	st.CCOrder = append(slices.DeleteFunc(st.CCOrder, func(l string) bool { return l == label }), label)
}

// ccAddressesFile is the peer's ccaas.AddressesKey file.
func (n *Network) ccAddressesFile(p topology.Node) string {
	return filepath.Join(n.Layout.NodeDir(p), "ccaas-addresses.json")
}

// writeCCAddresses writes every peer's addresses file from the slots.
func (n *Network) writeCCAddresses(st *State) error {
	for _, p := range n.Layout.Peers() {
		byLabel := map[string]string{}
		for label, s := range st.CCSlots {
			byLabel[label] = p.AddrOf(p.Port + s) // the peer's host address on the hosts layout
		}
		if err := ccaas.WriteAddresses(n.ccAddressesFile(p), byLabel); err != nil {
			return fmt.Errorf("chaincode addresses of %s: %w", p.Name, err)
		}
	}
	return nil
}
