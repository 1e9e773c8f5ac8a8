package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// Hosts places the network on separate Linux hosts: one network namespace
// per organisation (its CA, peer, chaincode server and gateway; the
// exporter's notifier too) and per orderer, plus one for the WhatsApp
// stand-in, which plays Meta's cloud and so belongs to no member. Each host
// has one address on a /24 (10.<Subnet>.0.0/24) behind a bridge in the root
// namespace, whose address (.1) is where this machine's own clients
// (shipnet, tests) come from.
//
// Every name starts with the data directory's tag, so two networks coexist
// and `down` finds what a crashed run left behind by that tag alone.
type Hosts struct {
	Tag    string `json:"tag"`    // "st" + 6 hex digits of the data directory's hash
	Subnet int    `json:"subnet"` // second octet of 10.<Subnet>.0.0/24
	// Joined are the organisations that joined the running consortium
	// (`shipnet org add`), in the order they joined: each has a host of its
	// own after the founding hosts. Recorded here, in network.json, so every
	// later command (start, stop, status, down) follows them.
	Joined []Org `json:"joined,omitempty"`
	// Left are the MSP IDs of joined organisations that were removed
	// (`shipnet org remove`). They keep their place in Joined, so the hosts
	// of those that joined after them keep their addresses.
	Left []string `json:"left,omitempty"`
}

// left reports whether the joined organisation mspID was removed.
func (h *Hosts) left(mspID string) bool {
	for _, id := range h.Left {
		if id == mspID {
			return true
		}
	}
	return false
}

// Host is one machine of the hosts layout (or, on one host, 127.0.0.1).
type Host struct {
	Name  string // e.g. exporter, orderer2, whatsapp
	IP    string
	NetNS string // "" on one host
	// Veth is the root-namespace end of the host's link to the bridge:
	// taking it down cuts the host off.
	Veth string
}

// HostTag is the prefix of every namespace and link of the network whose
// data directory is home: interface names are at most 15 bytes, so a short
// hash stands for the path.
func HostTag(home string) string {
	abs, err := filepath.Abs(home)
	if err != nil {
		abs = home
	}
	sum := sha256.Sum256([]byte(abs))
	return "st" + hex.EncodeToString(sum[:3])
}

// hostOrder fixes each host's index: its address is .10+index and its link
// is <tag>h<index>.
var hostOrder = []string{"orderer1", "orderer2", "orderer3", "exporter", "carrier", "retailer", "whatsapp"}

// HostNames lists the founding hosts of the hosts layout.
func HostNames() []string { return append([]string(nil), hostOrder...) }

// hostNames are the founding hosts, then one per joined organisation.
func (h *Hosts) hostNames() []string {
	names := HostNames()
	for _, o := range h.Joined {
		names = append(names, o.Label)
	}
	return names
}

// NetNSPrefix starts the name of every namespace of the network.
func (h Hosts) NetNSPrefix() string { return h.Tag + "-" }

// Bridge is the bridge in the root namespace joining the hosts.
func (h Hosts) Bridge() string { return h.Tag + "br" }

// GatewayIP is the bridge's address: the root namespace's address on the
// hosts' network.
func (h Hosts) GatewayIP() string { return fmt.Sprintf("10.%d.0.1", h.Subnet) }

// CIDR is the hosts' network.
func (h Hosts) CIDR() string { return fmt.Sprintf("10.%d.0.0/24", h.Subnet) }

// Host returns the host called name: on one host, 127.0.0.1 in the root
// namespace.
func (l Layout) Host(name string) Host {
	if l.Hosts == nil {
		return Host{Name: name, IP: "127.0.0.1"}
	}
	for i, n := range l.Hosts.hostNames() {
		if n == name {
			return Host{Name: name, IP: fmt.Sprintf("10.%d.0.%d", l.Hosts.Subnet, 10+i),
				NetNS: l.Hosts.NetNSPrefix() + name, Veth: fmt.Sprintf("%sh%d", l.Hosts.Tag, i)}
		}
	}
	panic("topology: unknown host " + name) // hostNames lists every host this package names
}

// OrgHost is the host of an organisation's CA (and, for a peer
// organisation, its peer and services). The orderer organisation's CA runs
// on the first orderer's host.
func (l Layout) OrgHost(org Org) Host {
	if org.MSPID == OrdererOrg.MSPID {
		return l.Host("orderer1")
	}
	return l.Host(org.Label)
}

// AllHosts lists every host (none on one host).
func (l Layout) AllHosts() []Host {
	if l.Hosts == nil {
		return nil
	}
	var out []Host
	for _, n := range HostNames() {
		out = append(out, l.Host(n))
	}
	for _, o := range l.Hosts.Joined {
		if !l.Hosts.left(o.MSPID) {
			out = append(out, l.Host(o.Label))
		}
	}
	return out
}

// OrgByLabel finds a peer organisation by its label (exporter, carrier,
// retailer).
func OrgByLabel(label string) (Org, bool) {
	for _, o := range PeerOrgs() {
		if o.Label == strings.ToLower(label) {
			return o, true
		}
	}
	return Org{}, false
}
