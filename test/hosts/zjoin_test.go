package hosts_test

// The file's name starts with z so that its test runs after the package's
// others (go test runs files in name order): the join and the removal move
// the chaincode definition on two sequences and leave a member that came
// and went in network.json (its name stays taken), and the other tests
// expect the network as `up --hosts` made it. TestMain takes the network
// down afterwards, so a failure half way leaves nothing behind.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/shiptrace/shiptrace/local/fabricbin"
	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/local/walk"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// TestAMemberJoins adds a fourth organisation, a second carrier, to the
// running consortium with `shipnet org add` (its own host, CA, peer,
// chaincode server and gateway; the channel update signed by a majority of
// the members' admins one after the other; its approval of the chaincode
// definition, a definition whose policy names it, and a member registry
// that lists it), and ends with a hand-over to it: a shipment the carrier
// holds goes to the new carrier, every member reads the new custodian
// through its own gateway, and the new carrier, now the custodian, hands it
// on to the buyer through its own gateway, which needs its own peer's
// endorsement (the shipment's key policy names the custodian's peer).
//
// Before the join the same hand-over is refused (the contract knows no
// Carrier2MSP), so the test cannot pass without the join. Then stop and
// start bring the new member back, and `shipnet org remove` takes it out
// again (it holds nothing by then): its host is gone, a hand-over to it is
// refused again, and the others keep writing.
func TestAMemberJoins(t *testing.T) {
	net := testnet.RequireHosts(t)
	sys := net.System(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := sys.Client()
	requireGatewaysReady(ctx, t, c)

	// A shipment the carrier holds: versions 1 to 3 (create, ship,
	// hand-over); the hand-overs below make 4 and 5.
	id := walk.NewID("JOIN")
	if _, err := c.Create(ctx, walk.NewShipment(id, nil), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Act(ctx, "exporter", id, "ship", nil, ""); err != nil {
		t.Fatal(err)
	}
	toCarrier, err := c.Act(ctx, "exporter", id, "handover", map[string]string{"toMSP": "CarrierMSP"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// The carrier writes through its own gateway, whose peer may not have
	// the exporter's block yet: the consistency token makes it wait.
	afterHandover := map[string]string{"X-Min-Block": strconv.FormatUint(toCarrier.Transaction.BlockNumber, 10)}
	toNew := map[string]string{"toMSP": "Carrier2MSP"}
	r, err := c.Do(ctx, "carrier", http.MethodPost, "/v1/shipments/"+id+"/handover", toNew, afterHandover)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status/100 != 4 || !strings.Contains(string(r.Body), "Carrier2MSP") {
		t.Fatalf("before the join, the hand-over to Carrier2MSP answers %d %s, want a refusal naming it", r.Status, r.Body)
	}
	t.Logf("before the join: hand-over to Carrier2MSP refused, %d %s: %s", r.Status, r.Problem().Slug(), r.Problem().Detail)

	// Bad input is refused at once, naming the problem, and changes nothing.
	stateFile := filepath.Join(net.Home, "network.json")
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ args, want string }{
		{"--name Carrier --role carrier", "already a member"},
		{"--name carrier2 --role carrier", "capital letter"},
		{"--name Carrier2 --role pilot", "--role"},
		{"--name Carrier2", "needs --name"},
	} {
		cmd := exec.Command(filepath.Join(net.Repo, ".cache", "bin", "shipnet-hosts"), append(append([]string{"org", "add"}, strings.Fields(bad.args)...), "--home", net.Home)...)
		cmd.Dir = net.Repo
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), bad.want) {
			t.Errorf("org add %s: %v, %s; want a refusal naming %q", bad.args, err, out, bad.want)
		}
	}
	if after, err := os.ReadFile(stateFile); err != nil || string(after) != string(before) {
		t.Fatalf("a refused org add changed network.json (%v)", err)
	}

	start := time.Now()
	out := net.Shipnet(t, "org", "add", "--name", "Carrier2", "--role", "carrier")
	took := time.Since(start)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		t.Logf("org add: %s", line)
	}
	t.Logf("figure: shipnet org add (a fourth organisation, a second carrier, on its own host) took %s", took.Round(100*time.Millisecond))

	// The update went from admin to admin: the computed envelope carries
	// no signature, the exporter's copy exactly the exporter admin's.
	local := net.Local(t)
	joins := filepath.Join(local.Layout.Home, "joins", "carrier2")
	for file, want := range map[string][]string{"envelope.pb": nil, "update-signed-1-exporter.pb": {"ExporterMSP"}} {
		if got := signers(t, local, filepath.Join(joins, file)); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s is signed by %v, want %v", file, got, want)
		}
	}

	// The new member as the network now records it.
	org, ok := local.Layout.OrgByMSPID("Carrier2MSP")
	if !ok {
		t.Fatalf("network.json does not list Carrier2MSP after org add: %+v", local.Layout.Hosts)
	}
	if p, ok := local.Layout.PeerOf(org.MSPID); !ok || p.NetNS == "" || p.NetNS == local.Layout.Host("carrier").NetNS {
		t.Fatalf("Carrier2's peer %+v: want it on a host of its own", p)
	}
	keys, err := local.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	if keys["carrier2"] == "" {
		t.Fatalf("no gateway API key for carrier2: %v", keys)
	}
	gw := local.GatewayURLOf(org)
	c.PerMember["carrier2"] = &walk.Client{Base: gw, Keys: map[string]string{"carrier2": keys["carrier2"]}, HTTP: trusting(t, local.GatewayCAOf(org))}
	members := []string{"exporter", "carrier", "retailer", "carrier2"}

	// Its gateway holds only its own organisation's identities.
	cfg, err := os.ReadFile(filepath.Join(local.Layout.Home, "services", "gateway-"+org.Label, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`msp_id: (\w+)`).FindAllStringSubmatch(string(cfg), -1) {
		if m[1] != org.MSPID {
			t.Errorf("Carrier2's gateway configuration names an identity of %s", m[1])
		}
	}
	raw := &walk.Client{Base: gw, Keys: map[string]string{"carrier": keys["carrier"]}, HTTP: c.Member("carrier2").HTTP}
	if r, err := raw.Do(ctx, "carrier", http.MethodGet, "/v1/shipments/"+id, nil, nil); err != nil || r.Status != http.StatusUnauthorized {
		t.Errorf("Carrier2's gateway answers the carrier's key with %v %v, want 401", statusOf(r), err)
	}

	// The hand-over to the new carrier, and every member reads it.
	rc, err := c.Act(ctx, "carrier", id, "handover", toNew, "")
	if err != nil {
		t.Fatalf("hand-over to Carrier2MSP after the join: %v", err)
	}
	for _, m := range members {
		got, took, err := readAfter(ctx, c, m, id, rc.Transaction.BlockNumber, 4, time.Minute)
		if err != nil {
			t.Fatalf("%s reads %s after the hand-over in block %d: %v", m, id, rc.Transaction.BlockNumber, err)
		}
		if got.Custodian != "Carrier2MSP" || got.Carrier != "Carrier2MSP" {
			t.Errorf("%s reads custodian %s, carrier %s; want Carrier2MSP", m, got.Custodian, got.Carrier)
		}
		t.Logf("%s reads custodian %s through its own gateway in %s", m, got.Custodian, took.Round(time.Millisecond))
	}

	// The new carrier acts as custodian: a hand-over to the buyer, through
	// its own gateway, endorsed by its own peer among others.
	rc, err = c.Act(ctx, "carrier2", id, "handover", map[string]string{"toMSP": "RetailerMSP"}, "")
	if err != nil {
		t.Fatalf("the new carrier hands %s to the buyer: %v", id, err)
	}
	for _, m := range members {
		got, _, err := readAfter(ctx, c, m, id, rc.Transaction.BlockNumber, 5, time.Minute)
		if err != nil {
			t.Fatalf("%s reads %s after Carrier2's hand-over in block %d: %v", m, id, rc.Transaction.BlockNumber, err)
		}
		if got.Custodian != "RetailerMSP" || got.UpdatedBy != "Carrier2MSP" {
			t.Errorf("%s reads custodian %s, last written by %s; want RetailerMSP, by Carrier2MSP", m, got.Custodian, got.UpdatedBy)
		}
	}
	if got, err := c.Shipment(ctx, "retailer", id); err != nil || got.Status != shipment.StatusInTransit {
		t.Fatalf("retailer reads %s: %v %v", id, statusOfShipment(got), err)
	}

	if n := len(local.Layout.Peers()); n != 4 {
		t.Errorf("%d peers after the join, want 4", n)
	}
	// The definition Fabric enforces for new keys counts the new member's
	// peer: a shipment it creates does not need two other members.
	if got := policyMSPs(ctx, t, local, "ExporterMSP"); !slices.Contains(got, "Carrier2MSP") {
		t.Errorf("after the join the committed endorsement policy names %v, want Carrier2MSP among them", got)
	}
	joined, err := local.LoadState()
	if err != nil {
		t.Fatal(err)
	}

	// A join killed at the worst moment, between Fabric's commit of the
	// widened definition and network.json's record of it (played by
	// putting the file's definition back as it was and marking the join
	// unfinished), is taken up by the same command: it finds the commit on
	// the channel instead of committing the same sequence again, which
	// Fabric would refuse, and the file catches up.
	rewindJoin(t, stateFile, before, "Carrier2MSP")
	out = net.Shipnet(t, "org", "add", "--name", "Carrier2", "--role", "carrier")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		t.Logf("org add again: %s", line)
	}
	if !strings.Contains(out, "continuing the join of Carrier2MSP") || strings.Contains(out, "commit seq") {
		t.Errorf("org add again after a stop between commit and record: want it continued without a second commit:\n%s", out)
	}
	resumed, err := local.LoadState()
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Chaincode != joined.Chaincode || len(resumed.IncompleteJoins) != 0 {
		t.Fatalf("after the join was taken up network.json records %+v, incomplete %v; want %+v, none", resumed.Chaincode, resumed.IncompleteJoins, joined.Chaincode)
	}

	// stop and start follow the new host: after both, its processes are
	// up again and its gateway reads the shipment.
	net.Shipnet(t, "stop")
	for _, s := range net.Status(t) {
		if ofCarrier2(s.Name) && s.PID != 0 {
			t.Errorf("%s still runs after stop (pid %d)", s.Name, s.PID)
		}
	}
	net.Shipnet(t, "start")
	seen := 0
	for _, s := range net.Status(t) {
		if ofCarrier2(s.Name) {
			seen++
			if !s.Up {
				t.Errorf("%s is down after start: %s", s.Name, s.Note)
			}
		}
	}
	if seen < 4 { // CA, peer, chaincode server, gateway
		t.Errorf("status lists %d processes of carrier2, want 4", seen)
	}
	mc := c.Member("carrier2")
	if err := walk.Eventually(ctx, time.Minute, 250*time.Millisecond, func() error {
		if !mc.Ready(ctx) {
			return &staleError{member: "carrier2", id: "readyz"}
		}
		return nil
	}); err != nil {
		t.Fatalf("carrier2's gateway not ready after start: %v", err)
	}
	if got, _, err := readAfter(ctx, c, "carrier2", id, rc.Transaction.BlockNumber, 5, time.Minute); err != nil || got.Custodian != "RetailerMSP" {
		t.Fatalf("carrier2 reads %s after stop and start: %v %v", id, statusOfShipment(got), err)
	}

	// The member leaves (it holds nothing now): registry, policy and
	// channel configuration without it, its host gone; a hand-over to it
	// is refused again, and the others keep writing.
	start = time.Now()
	out = net.Shipnet(t, "org", "remove", "--name", "Carrier2")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		t.Logf("org remove: %s", line)
	}
	t.Logf("figure: shipnet org remove took %s", time.Since(start).Round(100*time.Millisecond))
	left, err := localnet.Leftovers(local.Layout.Hosts.Tag)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range left {
		if strings.HasSuffix(l, "-carrier2") || strings.HasSuffix(l, local.Layout.Host("carrier2").Veth) {
			t.Errorf("after org remove, %s is still there", l)
		}
	}
	for _, s := range net.Status(t) {
		if ofCarrier2(s.Name) {
			t.Errorf("status still lists %s after org remove", s.Name)
		}
	}
	if got := policyMSPs(ctx, t, local, "ExporterMSP"); slices.Contains(got, "Carrier2MSP") || len(got) != 3 {
		t.Errorf("after org remove the committed endorsement policy names %v, want the three founders", got)
	}
	id2 := walk.NewID("LEFT")
	if _, err := c.Create(ctx, walk.NewShipment(id2, nil), ""); err != nil {
		t.Fatalf("create after Carrier2 left: %v", err)
	}
	if _, err := c.Act(ctx, "exporter", id2, "ship", nil, ""); err != nil {
		t.Fatal(err)
	}
	r, err = c.Do(ctx, "exporter", http.MethodPost, "/v1/shipments/"+id2+"/handover", toNew, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status/100 != 4 || !strings.Contains(string(r.Body), "Carrier2MSP") {
		t.Fatalf("after Carrier2 left, a hand-over to it answers %d %s, want a refusal naming it", r.Status, r.Body)
	}
	if _, err := c.Act(ctx, "exporter", id2, "handover", map[string]string{"toMSP": "CarrierMSP"}, ""); err != nil {
		t.Fatalf("hand-over to the carrier after Carrier2 left: %v", err)
	}
}

// rewindJoin puts network.json back to a join stopped after Fabric
// committed the widened definition but before the file recorded it: the
// chaincode definition as in before (the file before the join), and msp's
// join unfinished; everything else stays as the join left it.
func rewindJoin(t *testing.T, stateFile string, before []byte, msp string) {
	t.Helper()
	var old, cur map[string]json.RawMessage
	b, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(before, &old); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cur); err != nil {
		t.Fatal(err)
	}
	cur["chaincode"] = old["chaincode"]
	cur["incompleteJoins"], _ = json.Marshal([]string{msp})
	if b, err = json.MarshalIndent(cur, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// policyMSPs lists the organisations named by the endorsement policy of
// the contract's definition as committed on the channel, asked of msp's
// peer: Fabric's own record, decoded from its protobuf.
func policyMSPs(ctx context.Context, t *testing.T, n *localnet.Network, msp string) []string {
	t.Helper()
	p, ok := n.Layout.PeerOf(msp)
	if !ok {
		t.Fatalf("no peer of %s", msp)
	}
	def, err := n.CommittedDefinition(ctx, p, topology.Chaincode)
	if err != nil {
		t.Fatal(err)
	}
	var ap peer.ApplicationPolicy
	if err := proto.Unmarshal(def.ValidationParameter, &ap); err != nil {
		t.Fatalf("decode the committed endorsement policy: %v", err)
	}
	var names []string
	for _, id := range ap.GetSignaturePolicy().GetIdentities() {
		var role mspproto.MSPRole
		if err := proto.Unmarshal(id.GetPrincipal(), &role); err != nil {
			t.Fatalf("decode a principal of the endorsement policy: %v", err)
		}
		names = append(names, role.GetMspIdentifier())
	}
	return names
}

// trusting is an HTTPS client that trusts caFile's root.
func trusting(t *testing.T, caFile string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: 3 * time.Minute, Transport: tr}
}

func statusOf(r *walk.Response) int {
	if r == nil {
		return 0
	}
	return r.Status
}

func statusOfShipment(s *shipment.Shipment) shipment.Status {
	if s == nil {
		return ""
	}
	return s.Status
}

// signers are the MSP IDs of the signatures on a channel configuration
// update envelope, decoded by Fabric's configtxlator.
func signers(t *testing.T, n *localnet.Network, file string) []string {
	t.Helper()
	bin := filepath.Join(fabricbin.Fabric.Dir(n.Cache), "configtxlator")
	out, err := exec.Command(bin, "proto_decode", "--input", file, "--type", "common.Envelope").Output()
	if err != nil {
		t.Fatalf("configtxlator proto_decode %s: %v", file, err)
	}
	var env struct {
		Payload struct {
			Data struct {
				Signatures []struct {
					SignatureHeader struct {
						Creator struct {
							MSPID string `json:"mspid"`
						} `json:"creator"`
					} `json:"signature_header"`
				} `json:"signatures"`
			} `json:"data"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	var ids []string
	for _, s := range env.Payload.Data.Signatures {
		ids = append(ids, s.SignatureHeader.Creator.MSPID)
	}
	return ids
}

// ofCarrier2 tells whether a process in `shipnet status` belongs to the
// joined member. A chaincode server runs in a numbered slot once the
// contract has been upgraded ("chaincode.carrier2-7"), so the name does not
// always end in the label.
func ofCarrier2(name string) bool {
	return strings.HasSuffix(name, ".carrier2") || strings.Contains(name, ".carrier2-")
}
