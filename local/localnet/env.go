package localnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/ccaas"
)

// Soft memory limits (Go's GOMEMLIMIT) per process kind. Without them each
// node's heap grows to twice its live size between collections, and the whole
// network peaks near 680 MiB under a write load; with them the collector works
// harder only as a process nears its limit. They are soft: a process that
// truly needs more gets it. Measurements in BENCHMARKS.md.
const (
	memLimitOrderer   = "56MiB"
	memLimitPeer      = "96MiB"
	memLimitChaincode = "20MiB"
	memLimitCA        = "24MiB"
)

// baseEnv is the environment every Fabric process starts from: the caller's
// environment minus any FABRIC_/CORE_/ORDERER_ settings, so a developer's shell
// cannot silently change a node.
func (n *Network) baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CORE_") || strings.HasPrefix(kv, "ORDERER_") || strings.HasPrefix(kv, "FABRIC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"FABRIC_CFG_PATH="+n.configDir(),
		"FABRIC_LOGGING_SPEC="+n.LogSpec,
	)
}

func (n *Network) configDir() string { return filepath.Join(n.Repo, "network", "config") }

// ordererEnv configures one orderer through environment overrides of the
// shared network/config/orderer.yaml.
func (n *Network) ordererEnv(o topology.Node) []string {
	l := n.Layout
	tlsDir := l.NodeTLSDir(o)
	dir := l.NodeDir(o)
	ordererTLSCA := l.TLSCACert(topology.OrdererOrg)
	return append(append(n.baseEnv(),
		"GOMEMLIMIT="+memLimitOrderer,
		"ORDERER_GENERAL_LISTENADDRESS="+o.IP,
		fmt.Sprintf("ORDERER_GENERAL_LISTENPORT=%d", o.Port),
		"ORDERER_GENERAL_LOCALMSPID="+o.Org.MSPID,
		"ORDERER_GENERAL_LOCALMSPDIR="+l.NodeMSPDir(o),
		"ORDERER_GENERAL_BOOTSTRAPMETHOD=none",
		"ORDERER_GENERAL_TLS_ENABLED=true",
		"ORDERER_GENERAL_TLS_PRIVATEKEY="+filepath.Join(tlsDir, "server.key"),
		"ORDERER_GENERAL_TLS_CERTIFICATE="+filepath.Join(tlsDir, "server.crt"),
		"ORDERER_GENERAL_TLS_ROOTCAS=["+filepath.Join(tlsDir, "ca.crt")+"]",
		// Mutual TLS: the orderer adds the TLS roots of every channel member
		// to its client roots from the channel configuration.
		"ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED=true",
		"ORDERER_GENERAL_TLS_CLIENTROOTCAS=["+strings.Join(n.allTLSCAs(), ",")+"]",
		"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE="+filepath.Join(tlsDir, "server.crt"),
		"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY="+filepath.Join(tlsDir, "server.key"),
		"ORDERER_GENERAL_CLUSTER_ROOTCAS=["+ordererTLSCA+"]",
		"ORDERER_CHANNELPARTICIPATION_ENABLED=true",
		"ORDERER_ADMIN_LISTENADDRESS="+o.AddrOf(o.AdminPort()),
		"ORDERER_ADMIN_TLS_ENABLED=true",
		"ORDERER_ADMIN_TLS_CERTIFICATE="+filepath.Join(tlsDir, "server.crt"),
		"ORDERER_ADMIN_TLS_PRIVATEKEY="+filepath.Join(tlsDir, "server.key"),
		"ORDERER_ADMIN_TLS_ROOTCAS=["+ordererTLSCA+"]",
		"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true",
		"ORDERER_ADMIN_TLS_CLIENTROOTCAS=["+ordererTLSCA+"]",
		"ORDERER_OPERATIONS_LISTENADDRESS="+o.AddrOf(o.OpsPort()),
		"ORDERER_OPERATIONS_TLS_ENABLED=true",
		"ORDERER_OPERATIONS_TLS_CERTIFICATE="+filepath.Join(tlsDir, "server.crt"),
		"ORDERER_OPERATIONS_TLS_PRIVATEKEY="+filepath.Join(tlsDir, "server.key"),
		// /healthz is open; /metrics asks for a client certificate from this CA.
		"ORDERER_OPERATIONS_TLS_CLIENTAUTHREQUIRED=false",
		"ORDERER_OPERATIONS_TLS_CLIENTROOTCAS=["+ordererTLSCA+"]",
		"ORDERER_METRICS_PROVIDER=prometheus",
		"ORDERER_FILELEDGER_LOCATION="+filepath.Join(dir, "ledger"),
		"ORDERER_CONSENSUS_WALDIR="+filepath.Join(dir, "etcdraft", "wal"),
		"ORDERER_CONSENSUS_SNAPDIR="+filepath.Join(dir, "etcdraft", "snapshot"),
	), n.profileEnv(o, "ORDERER_GENERAL_PROFILE_ENABLED", "ORDERER_GENERAL_PROFILE_ADDRESS")...)
}

// profileEnv turns on a node's Go profiling endpoint (net/http/pprof) on
// loopback when the network runs with Profile; Fabric leaves it off.
func (n *Network) profileEnv(node topology.Node, enabled, address string) []string {
	if !n.Profile {
		return nil
	}
	return []string{enabled + "=true", address + "=" + node.AddrOf(node.ProfilePort())}
}

// peerEnv configures one peer through environment overrides of the shared
// network/config/core.yaml.
func (n *Network) peerEnv(p topology.Node) []string {
	l := n.Layout
	tlsDir := l.NodeTLSDir(p)
	dir := l.NodeDir(p)
	return append(append(n.baseEnv(),
		"GOMEMLIMIT="+memLimitPeer,
		"CORE_PEER_ID="+p.Host,
		"CORE_PEER_ADDRESS="+p.Address(),
		"CORE_PEER_LISTENADDRESS="+p.Address(),
		"CORE_PEER_CHAINCODEADDRESS="+p.AddrOf(p.ChaincodeListenPort()),
		"CORE_PEER_CHAINCODELISTENADDRESS="+p.AddrOf(p.ChaincodeListenPort()),
		"CORE_PEER_GOSSIP_BOOTSTRAP="+p.Address(),
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT="+p.Address(),
		"CORE_PEER_GOSSIP_USELEADERELECTION=false",
		"CORE_PEER_GOSSIP_ORGLEADER=true",
		// Peers start together; one that probes another before it listens
		// waits reconnectInterval (25 s by default) before it tries again,
		// and until then its discovery cannot name that org's endorsers.
		"CORE_PEER_GOSSIP_RECONNECTINTERVAL=2s",
		"CORE_PEER_LOCALMSPID="+p.Org.MSPID,
		"CORE_PEER_MSPCONFIGPATH="+l.NodeMSPDir(p),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_CERT_FILE="+filepath.Join(tlsDir, "server.crt"),
		"CORE_PEER_TLS_KEY_FILE="+filepath.Join(tlsDir, "server.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE="+filepath.Join(tlsDir, "ca.crt"),
		"CORE_PEER_TLS_CLIENTAUTHREQUIRED=true",
		"CORE_PEER_TLS_CLIENTROOTCAS_FILES="+strings.Join(n.allTLSCAs(), " "),
		"CORE_PEER_TLS_CLIENTCERT_FILE="+filepath.Join(tlsDir, "server.crt"),
		"CORE_PEER_TLS_CLIENTKEY_FILE="+filepath.Join(tlsDir, "server.key"),
		"CORE_PEER_FILESYSTEMPATH="+filepath.Join(dir, "data"),
		"CORE_LEDGER_SNAPSHOTS_ROOTDIR="+filepath.Join(dir, "snapshots"),
		"CORE_LEDGER_STATE_STATEDATABASE=goleveldb",
		"CORE_OPERATIONS_LISTENADDRESS="+p.AddrOf(p.OpsPort()),
		"CORE_OPERATIONS_TLS_ENABLED=true",
		"CORE_OPERATIONS_TLS_CERT_FILE="+filepath.Join(tlsDir, "server.crt"),
		"CORE_OPERATIONS_TLS_KEY_FILE="+filepath.Join(tlsDir, "server.key"),
		// /healthz is open; /metrics asks for a client certificate from this CA.
		"CORE_OPERATIONS_TLS_CLIENTAUTHREQUIRED=false",
		"CORE_OPERATIONS_TLS_CLIENTROOTCAS_FILES="+l.TLSCACert(p.Org),
		"CORE_METRICS_PROVIDER=prometheus",
		"CORE_CHAINCODE_EXTERNALBUILDERS=[{name: shiptrace-ccaas, path: "+n.builderDir()+", propagateEnvironment: ["+ccaas.ConfigEnv+"]}]",
		ccaas.ConfigEnv+"="+n.builderConfig(p),
	), n.profileEnv(p, "CORE_PEER_PROFILE_ENABLED", "CORE_PEER_PROFILE_LISTENADDRESS")...)
}

// adminEnv is the environment of the peer CLI acting as an org's admin
// against that org's peer.
func (n *Network) adminEnv(p topology.Node) []string {
	l := n.Layout
	userTLS := l.UserTLSDir(p.Org, "Admin")
	return append(n.baseEnv(),
		"CORE_PEER_LOCALMSPID="+p.Org.MSPID,
		"CORE_PEER_MSPCONFIGPATH="+l.UserMSPDir(p.Org, "Admin"),
		"CORE_PEER_ADDRESS="+p.Address(),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_ROOTCERT_FILE="+l.TLSCACert(p.Org),
		"CORE_PEER_TLS_CLIENTAUTHREQUIRED=true",
		"CORE_PEER_TLS_CLIENTCERT_FILE="+filepath.Join(userTLS, "client.crt"),
		"CORE_PEER_TLS_CLIENTKEY_FILE="+filepath.Join(userTLS, "client.key"),
	)
}

// ordererClientArgs are the peer CLI flags that reach an orderer with mutual
// TLS as the org's admin.
func (n *Network) ordererClientArgs(p topology.Node) []string {
	o := n.Layout.Orderers()[0]
	userTLS := n.Layout.UserTLSDir(p.Org, "Admin")
	return []string{"-o", o.Address(), "--tls", "--cafile", n.Layout.TLSCACert(topology.OrdererOrg),
		"--clientauth", "--certfile", filepath.Join(userTLS, "client.crt"), "--keyfile", filepath.Join(userTLS, "client.key")}
}

// ccServerEnv configures an org's chaincode server process.
func (n *Network) ccServerEnv(p topology.Node, packageID string, slot int) []string {
	tlsDir := n.Layout.CCServerTLSDir(p.Org)
	return append(n.baseEnv(),
		"GOMEMLIMIT="+memLimitChaincode,
		"CHAINCODE_SERVER_ADDRESS="+p.AddrOf(p.Port+slot),
		"CHAINCODE_ID="+packageID,
		"CHAINCODE_TLS_CERT="+filepath.Join(tlsDir, "server.crt"),
		"CHAINCODE_TLS_KEY="+filepath.Join(tlsDir, "server.key"),
		"CHAINCODE_TLS_CLIENT_CA="+n.Layout.TLSCACert(p.Org),
	)
}

func (n *Network) allTLSCAs() []string {
	cas := []string{n.Layout.TLSCACert(topology.OrdererOrg)}
	for _, org := range n.Layout.PeerOrgs() {
		cas = append(cas, n.Layout.TLSCACert(org))
	}
	return cas
}

// builderConfig is the peer's part of the chaincode connection, which the
// shared package's connection.json names (ccaas.SharedConnection): where this
// org's chaincode server listens (by package label, from the addresses file
// Deploy writes; the first slot for a label it does not list), the CA that issued its certificate, and the
// peer's own TLS pair to authenticate to it.
func (n *Network) builderConfig(p topology.Node) string {
	tlsDir := n.Layout.NodeTLSDir(p)
	b, _ := json.Marshal(map[string]string{ // a map of strings always marshals
		"address":          p.AddrOf(p.CCServerPort()),
		"root_cert_file":   n.Layout.TLSCACert(p.Org),
		"client_cert_file": filepath.Join(tlsDir, "server.crt"),
		"client_key_file":  filepath.Join(tlsDir, "server.key"),
		// an upgrade's new version listens elsewhere: its label's address
		ccaas.AddressesKey: n.ccAddressesFile(p),
	})
	return string(b)
}
