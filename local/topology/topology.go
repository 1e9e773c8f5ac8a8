// Package topology describes the local consortium: which organisations and
// nodes exist, which loopback ports they listen on and where their files live.
// It is pure data, so every other part of the network tooling (and the tests)
// derives addresses and paths from one place instead of repeating them.
package topology

import (
	"fmt"
	"path/filepath"
)

// Channel and chaincode names shared by the network and its clients.
const (
	Channel   = "supplychain"
	Chaincode = "shiptrace"
)

// DefaultBasePort is the first port of the block the local network uses.
const DefaultBasePort = 17000

// portsPerNode is the width of each node's port block; see Node for the offsets.
const portsPerNode = 10

// Kind says what a node is.
type Kind string

// Node kinds.
const (
	Orderer Kind = "orderer"
	Peer    Kind = "peer"
)

// Org is a member organisation of the consortium.
type Org struct {
	Name   string `json:"name"`   // configtx organisation name, e.g. ExporterOrg
	MSPID  string `json:"mspId"`  // e.g. ExporterMSP
	Domain string `json:"domain"` // cryptogen domain, e.g. exporter.shiptrace
	Label  string `json:"label"`  // short lower-case name used in file and process names
}

// Node is one Fabric process. Its ports are a block of ten starting at Port:
// Port+0 main gRPC listener (peer or orderer, also Raft cluster traffic),
// Port+1 orderer admin (channel participation) or peer chaincode listener,
// Port+2 operations (health, metrics), Port+3 the org's chaincode server;
// only when a benchmark asks: Port+4 the node's pprof endpoint, Port+5 an
// extra chaincode server (a benchmark's reference) and Port+6 its pprof.
type Node struct {
	Name string // short process name, e.g. orderer1, peer0.exporter
	Host string // cryptogen host name, e.g. orderer1.orderer.shiptrace
	Kind Kind
	Org  Org
	Port int
	// IP is the address every listener of the node binds: 127.0.0.1 on the
	// one-host layout, the node's host address on the hosts layout.
	IP string
	// NetNS is the network namespace the node runs in ("" on one host).
	NetNS string
}

// AdminPort is the orderer's channel participation API port.
func (n Node) AdminPort() int { return n.Port + 1 }

// ChaincodeListenPort is the peer's own chaincode listener (unused by
// chaincode-as-a-service, but the peer always binds it).
func (n Node) ChaincodeListenPort() int { return n.Port + 1 }

// OpsPort is the operations endpoint (/healthz, /metrics).
func (n Node) OpsPort() int { return n.Port + 2 }

// CCServerPort is where the org's chaincode server listens (peers only).
func (n Node) CCServerPort() int { return n.Port + 3 }

// ProfilePort is the node's Go profiling endpoint (net/http/pprof), bound
// only on a network started with profiling on.
func (n Node) ProfilePort() int { return n.Port + 4 }

// ExtraCCServerPort is where the org's server of an extra chaincode (a
// benchmark's reference, deployed beside shiptrace) listens (peers only).
func (n Node) ExtraCCServerPort() int { return n.Port + 5 }

// ExtraCCProfilePort is that extra chaincode server's pprof endpoint.
func (n Node) ExtraCCProfilePort() int { return n.Port + 6 }

// Address is host:port of the main listener.
func (n Node) Address() string { return fmt.Sprintf("%s:%d", n.IP, n.Port) }

// AddrOf is host:port on the node's address.
func (n Node) AddrOf(port int) string { return fmt.Sprintf("%s:%d", n.IP, port) }

// Ports lists every port the node (and, for a peer, its chaincode server) binds.
func (n Node) Ports() []int {
	if n.Kind == Peer {
		return []int{n.Port, n.ChaincodeListenPort(), n.OpsPort(), n.CCServerPort()}
	}
	return []int{n.Port, n.AdminPort(), n.OpsPort()}
}

// The consortium's organisations.
var (
	OrdererOrg  = Org{Name: "OrdererOrg", MSPID: "OrdererMSP", Domain: "orderer.shiptrace", Label: "orderer"}
	ExporterOrg = Org{Name: "ExporterOrg", MSPID: "ExporterMSP", Domain: "exporter.shiptrace", Label: "exporter"}
	CarrierOrg  = Org{Name: "CarrierOrg", MSPID: "CarrierMSP", Domain: "carrier.shiptrace", Label: "carrier"}
	RetailerOrg = Org{Name: "RetailerOrg", MSPID: "RetailerMSP", Domain: "retailer.shiptrace", Label: "retailer"}
)

// PeerOrgs are the application organisations, in a fixed order.
func PeerOrgs() []Org { return []Org{ExporterOrg, CarrierOrg, RetailerOrg} }

// Layout places the network on this machine: a base port and a data directory.
type Layout struct {
	BasePort int
	Home     string // data directory: crypto, ledgers, logs, pid files
	// Hosts, when set, places every organisation and every orderer on a
	// host of its own (a network namespace; see hosts.go).
	Hosts *Hosts
}

// Orderers returns the three Raft orderers.
func (l Layout) Orderers() []Node {
	nodes := make([]Node, 3)
	for i := range nodes {
		name := fmt.Sprintf("orderer%d", i+1)
		h := l.Host(name)
		nodes[i] = Node{Name: name, Host: name + "." + OrdererOrg.Domain, Kind: Orderer, Org: OrdererOrg,
			Port: l.BasePort + i*portsPerNode, IP: h.IP, NetNS: h.NetNS}
	}
	return nodes
}

// Peers returns one peer per application organisation, the founding three
// first, then those that joined (Layout.PeerOrgs).
func (l Layout) Peers() []Node {
	orgs := l.PeerOrgs()
	nodes := make([]Node, len(orgs))
	for i, org := range orgs {
		h := l.Host(org.Label)
		port := l.BasePort + (3+i)*portsPerNode
		if j, ok := l.joinedIndex(org); ok {
			// A member that joined: above the service ports, which its own
			// host also binds (its gateway), in a block of its own.
			port = l.BasePort + joinedPortBase + j*portsPerNode
		}
		nodes[i] = Node{Name: "peer0." + org.Label, Host: "peer0." + org.Domain, Kind: Peer, Org: org,
			Port: port, IP: h.IP, NetNS: h.NetNS}
	}
	return nodes
}

// joinedPortBase is the offset of the first joined member's peer port block
// from the base port: past the service ports (ServicePort counts from +60).
const joinedPortBase = 200

// PeerOrgs are the application organisations of this network: the founding
// three (PeerOrgs), then every organisation that joined later (`shipnet org
// add`, recorded in the hosts layout).
func (l Layout) PeerOrgs() []Org {
	orgs := PeerOrgs()
	if l.Hosts != nil {
		for _, o := range l.Hosts.Joined {
			if !l.Hosts.left(o.MSPID) {
				orgs = append(orgs, o)
			}
		}
	}
	return orgs
}

// joinedIndex is org's place among the organisations that joined (those
// removed since included), which fixes its host and ports for good.
func (l Layout) joinedIndex(org Org) (int, bool) {
	if l.Hosts == nil {
		return 0, false
	}
	for j, o := range l.Hosts.Joined {
		if o.MSPID == org.MSPID {
			return j, true
		}
	}
	return 0, false
}

// AllOrgs are the orderer organisation and the network's peer organisations.
func (l Layout) AllOrgs() []Org { return append([]Org{OrdererOrg}, l.PeerOrgs()...) }

// OrgByMSPID finds an organisation of this network by its MSP ID.
func (l Layout) OrgByMSPID(mspID string) (Org, bool) {
	for _, o := range l.AllOrgs() {
		if o.MSPID == mspID {
			return o, true
		}
	}
	return Org{}, false
}

// Nodes returns orderers then peers.
func (l Layout) Nodes() []Node { return append(l.Orderers(), l.Peers()...) }

// PeerOf returns the peer of an organisation by MSP ID.
func (l Layout) PeerOf(mspID string) (Node, bool) {
	for _, p := range l.Peers() {
		if p.Org.MSPID == mspID {
			return p, true
		}
	}
	return Node{}, false
}

// ServicePort returns the port of the n-th service beyond the Fabric nodes
// (gateways, notifier, WhatsApp stand-in, CAs), so they share the base port.
func (l Layout) ServicePort(n int) int { return l.BasePort + 6*portsPerNode + n }

// CA is an organisation's Fabric CA server (enrolment CA and TLS CA on one
// listener).
type CA struct {
	Name    string // process name, e.g. ca.exporter
	Org     Org
	Port    int
	OpsPort int
	IP      string // listen address (the org's host on the hosts layout)
	NetNS   string
}

// URL is the CA server's address.
func (c CA) URL() string { return fmt.Sprintf("https://%s:%d", c.IP, c.Port) }

// CAName and TLSCAName are the names of the two CA instances the server hosts.
func (c CA) CAName() string    { return "ca-" + c.Org.Label }
func (c CA) TLSCAName() string { return "tlsca-" + c.Org.Label }

// AllOrgs are the orderer organisation and the peer organisations.
func AllOrgs() []Org { return append([]Org{OrdererOrg}, PeerOrgs()...) }

// CAs returns one CA server per organisation, on service ports 30 and up.
func (l Layout) CAs() []CA {
	orgs := l.AllOrgs()
	cas := make([]CA, len(orgs))
	for i, org := range orgs {
		h := l.OrgHost(org)
		k := i
		if j, ok := l.joinedIndex(org); ok {
			k = len(AllOrgs()) + j // its place for good, whoever left before it
		}
		cas[i] = CA{Name: "ca." + org.Label, Org: org, Port: l.ServicePort(30 + 2*k), OpsPort: l.ServicePort(31 + 2*k),
			IP: h.IP, NetNS: h.NetNS}
	}
	return cas
}

// CAHome is the CA server's home folder (its keys, database, configuration).
func (l Layout) CAHome(org Org) string { return filepath.Join(l.Home, "ca", org.Label) }

// Paths of the data directory.

func (l Layout) CryptoDir() string  { return filepath.Join(l.Home, "crypto") }
func (l Layout) LogDir() string     { return filepath.Join(l.Home, "logs") }
func (l Layout) RunDir() string     { return filepath.Join(l.Home, "run") }
func (l Layout) ChannelDir() string { return filepath.Join(l.Home, "channel") }
func (l Layout) NodeDir(n Node) string {
	return filepath.Join(l.Home, "nodes", n.Name)
}

// LogFile is where a process writes its output.
func (l Layout) LogFile(name string) string { return filepath.Join(l.LogDir(), name+".log") }

// PIDFile records the process ID of a process started by the tooling.
func (l Layout) PIDFile(name string) string { return filepath.Join(l.RunDir(), name+".pid") }

// OrgDir is the cryptogen output folder of an organisation.
func (l Layout) OrgDir(org Org) string {
	kind := "peerOrganizations"
	if org.MSPID == OrdererOrg.MSPID {
		kind = "ordererOrganizations"
	}
	return filepath.Join(l.CryptoDir(), kind, org.Domain)
}

// NodeMSPDir and NodeTLSDir are the node's own identity folders.
func (l Layout) NodeMSPDir(n Node) string { return filepath.Join(l.nodeCryptoDir(n), "msp") }
func (l Layout) NodeTLSDir(n Node) string { return filepath.Join(l.nodeCryptoDir(n), "tls") }

func (l Layout) nodeCryptoDir(n Node) string {
	sub := "peers"
	if n.Kind == Orderer {
		sub = "orderers"
	}
	return filepath.Join(l.OrgDir(n.Org), sub, n.Host)
}

// CCServerTLSDir holds the TLS identity of an org's chaincode server.
func (l Layout) CCServerTLSDir(org Org) string {
	return filepath.Join(l.OrgDir(org), "peers", "ccaas."+org.Domain, "tls")
}

// UserMSPDir is the MSP folder of a user, e.g. "Admin" or "User1".
func (l Layout) UserMSPDir(org Org, user string) string {
	return filepath.Join(l.OrgDir(org), "users", user+"@"+org.Domain, "msp")
}

// UserTLSDir is the TLS client identity of a user (for mutual TLS).
func (l Layout) UserTLSDir(org Org, user string) string {
	return filepath.Join(l.OrgDir(org), "users", user+"@"+org.Domain, "tls")
}

// TLSCACert is the organisation's TLS root certificate.
func (l Layout) TLSCACert(org Org) string {
	return filepath.Join(l.OrgDir(org), "tlsca", "tlsca."+org.Domain+"-cert.pem")
}

// GenesisBlock is the channel's first block, made by configtxgen.
func (l Layout) GenesisBlock() string { return filepath.Join(l.ChannelDir(), Channel+".block") }

// ConnectionProfile is the file clients read to reach the network.
func (l Layout) ConnectionProfile() string { return filepath.Join(l.Home, "connection.json") }

// StateFile records what `up` decided (base port, deployed chaincode) so later
// commands act on the same network.
func (l Layout) StateFile() string { return filepath.Join(l.Home, "network.json") }
