package localnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/ccaas"
	"github.com/shiptrace/shiptrace/shipment"
)

// A member joins (`shipnet org add`, network/README.md "A member joins"):
// the steps a real consortium takes when a new company comes in, each done
// with the keys of the company that would do it. The new organisation gets
// a host of its own, its CA and identities, then the existing members'
// admins sign, one after the other, the channel configuration update that
// adds it (the Application group's modification policy is MAJORITY Admins),
// its peer joins from the channel's first block and catches up, it installs
// the running chaincode and approves the committed definition, every member
// approves a definition whose endorsement policy names it too, the existing
// members approve and commit the member registry that lists it, and its own
// gateway starts on its host. Only the hosts layout has room for a new host;
// on one host the command refuses.

// JoinRequest is one `shipnet org add`.
type JoinRequest struct {
	Name string // organisation name, e.g. Carrier2 (Carrier2MSP)
	Role string // the capacity it is registered in: carrier, exporter or retailer
}

// CheckJoin refuses, before anything is built or changed, an org add
// this network cannot take: no hosts layout, no Fabric CAs, an unfinished
// network, an unknown role, a malformed or taken name.
func (n *Network) CheckJoin(r JoinRequest) error {
	_, err := n.checkJoin(r)
	return err
}

func (n *Network) checkJoin(r JoinRequest) (*State, error) {
	st, err := n.LoadState()
	if err != nil {
		return nil, fmt.Errorf("no network in %s (run `up --hosts` first): %w", n.Layout.Home, err)
	}
	if st.Hosts == nil {
		return nil, errors.New("org add needs the hosts layout (`shipnet up --hosts`), where a new member gets a host of its own; the one-host layout's ports and certificates are fixed to the founding three")
	}
	if st.Crypto != CryptoCA {
		return nil, fmt.Errorf("org add needs a network made with Fabric CAs (--crypto ca), not %s", st.Crypto)
	}
	if !st.Complete {
		return nil, errors.New("the network was never completely created: `down`, then `up --hosts` again")
	}
	if _, err := joinCapacity(r.Role); err != nil {
		return nil, err
	}
	n.Layout.Hosts = st.Hosts
	if _, resume := st.incompleteJoin(r.Name); !resume {
		if _, err := n.Layout.JoiningOrg(r.Name); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// joinCapacity is the registry capacity of a joining member's role.
func joinCapacity(role string) (shipment.Capacity, error) {
	for _, c := range shipment.Capacities {
		if string(c) == role {
			return c, nil
		}
	}
	return "", fmt.Errorf("--role %q: want one of %v (the capacity the member registry records)", role, shipment.Capacities)
}

// joinDir keeps what a join produced: the configuration update and its
// signed copies, the channel's first block as fetched.
func (n *Network) joinDir(org topology.Org) string {
	return filepath.Join(n.Layout.Home, "joins", org.Label)
}

// AddOrg adds an organisation to the running consortium on the hosts
// layout. Each step prints its duration; the last line is the whole time.
func (n *Network) AddOrg(ctx context.Context, r JoinRequest) error {
	total := time.Now()
	st, err := n.checkJoin(r)
	if err != nil {
		return err
	}
	capacity, _ := joinCapacity(r.Role)
	n.Layout.Hosts = st.Hosts
	// A join that stopped half way (a failed step, an interrupt) is taken
	// up again by the same command: every step below first checks whether
	// it is done.
	org, resume := st.incompleteJoin(r.Name)
	if !resume && len(st.IncompleteJoins) > 0 {
		return fmt.Errorf("the join of %s stopped half way: finish it first (the same `shipnet org add` again)", st.IncompleteJoins[0])
	}
	if !resume {
		if org, err = n.Layout.JoiningOrg(r.Name); err != nil {
			return err
		}
	}
	founders := n.Layout.Peers() // the members before the join
	if resume {
		founders = founders[:len(founders)-1]
		fmt.Fprintf(n.Out, "continuing the join of %s that stopped half way\n", org.MSPID)
	}
	pkgID := runningPackage(st)
	if pkgID == "" {
		return errors.New("no chaincode is deployed: nothing for a new member to approve")
	}
	// The chaincode package the new member installs must be the one the
	// others run: built from this checkout, it must hash the same.
	label := packageLabel(pkgID)
	pkg, err := n.ChaincodePackage(ctx, label)
	if err != nil {
		return err
	}
	if id := ccaas.PackageID(label, pkg); id != pkgID {
		return fmt.Errorf("this checkout packages %s as %s, but the channel runs %s: add the member from the commit the consortium deployed", label, id, pkgID)
	}

	// Recorded first, so that stop, start, status and down follow the new
	// host whatever happens next.
	if !resume {
		st.Hosts.Joined = append(st.Hosts.Joined, org)
		st.IncompleteJoins = append(st.IncompleteJoins, org.MSPID)
		if err := n.saveState(st); err != nil {
			return err
		}
	}
	host := n.Layout.Host(org.Label)
	peer, _ := n.Layout.PeerOf(org.MSPID)
	var ca topology.CA
	for _, c := range n.Layout.CAs() {
		if c.Org == org {
			ca = c
		}
	}
	dir := n.joinDir(org)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	if err := n.step(fmt.Sprintf("create host %s (%s, %s, link %s)", host.Name, host.NetNS, host.IP, host.Veth), func() error {
		if left, err := Leftovers(st.Hosts.Tag); err == nil && slices.Contains(left, "netns "+host.NetNS) {
			return nil
		}
		return createHost(ctx, st.Hosts, host)
	}); err != nil {
		return err
	}
	if err := n.step("start "+ca.Name+" (enrolment + TLS CA) on its host", func() error { return n.startCA(ctx, ca) }); err != nil {
		return err
	}
	if err := n.step("register and enrol "+org.MSPID+"'s peer, chaincode server and users (fabric-sdk-go)", func() error {
		if _, err := os.Stat(filepath.Join(n.Layout.NodeMSPDir(peer), "signcerts")); err != nil {
			if err := n.enrollOrg(ctx, ca); err != nil {
				return err
			}
		}
		return checkLowS(n.Layout.OrgDir(org))
	}); err != nil {
		return err
	}

	// The channel configuration update, computed by one existing member
	// and passed from admin to admin for signatures.
	var envelope string
	if err := n.step("compute the channel configuration update adding "+org.MSPID+" (configtxgen -printOrg, configtxlator)", func() error {
		envelope, err = n.joinUpdate(ctx, founders[0], org, peer, dir)
		return err
	}); err != nil {
		return err
	}
	if envelope != "" { // "": the channel lists the member already (a join taken up again)
		if err := n.collectSignatures(ctx, founders, envelope, dir); err != nil {
			return err
		}
	}
	if err := n.step("check the new configuration block lists "+org.MSPID+" and its anchor peer (fetched as "+org.MSPID+"'s admin)", func() error {
		return n.checkJoined(ctx, peer, dir)
	}); err != nil {
		return err
	}

	if err := n.step("start "+peer.Name+" on its host", func() error { return n.startAll(ctx, []topology.Node{peer}) }); err != nil {
		return err
	}
	if err := n.step(fmt.Sprintf("join %s to %s from the channel's block 0, fetched from an orderer", peer.Name, topology.Channel), func() error {
		return n.joinFromOrderer(ctx, peer, dir)
	}); err != nil {
		return err
	}
	if err := n.step(peer.Name+" catches up with the orderers", func() error { return n.waitCaughtUp(ctx, peer, 2*time.Minute) }); err != nil {
		return err
	}

	// Chaincode: the running package on the new peer, its server on the
	// new host, the new member's approval of the committed definition.
	if err := n.writeCCAddresses(st); err != nil {
		return err
	}
	if err := n.step(fmt.Sprintf("install %s on %s", label, peer.Name), func() error {
		_, err := n.install(ctx, peer, label, label, pkg)
		return err
	}); err != nil {
		return err
	}
	if err := n.step("start "+ccServerNameAt(peer, st.slotOf(pkgID))+" on its host", func() error {
		return n.startCCServerAt(ctx, peer, pkgID, st.slotOf(pkgID))
	}); err != nil {
		return err
	}
	current := definition{topology.Chaincode, st.Chaincode.Version, st.Chaincode.Sequence, st.Chaincode.Policy}
	if err := n.step(fmt.Sprintf("approve the committed definition (%s seq %d) as %s's admin", current.version, current.seq, org.MSPID), func() error {
		if st.Packages[org.MSPID] != "" {
			return nil // approved before the join stopped
		}
		return n.approve(ctx, peer, current, pkgID)
	}); err != nil {
		return err
	}
	st.Packages[org.MSPID] = pkgID
	if err := n.saveState(st); err != nil {
		return err
	}
	if err := n.step("wait until every peer knows the others (gossip, discovery)", func() error { return n.waitGossip(ctx, 2*time.Minute) }); err != nil {
		return err
	}

	// The endorsement policy names the new member too: a new sequence of
	// the same package, approved by every member separately.
	widened := definition{topology.Chaincode, st.Chaincode.Version, st.Chaincode.Sequence + 1, n.endorsementPolicy()}
	if st.Chaincode.Policy != widened.policy {
		done, err := n.committedOnChannel(ctx, founders[0], widened)
		if err != nil {
			return err
		}
		if !done {
			for _, p := range n.Layout.Peers() {
				if err := n.step(fmt.Sprintf("approve seq %d (policy %s) as %s's admin", widened.seq, widened.policy, p.Org.MSPID), func() error {
					return n.approve(ctx, p, widened, pkgID)
				}); err != nil {
					return err
				}
			}
			if err := n.step(fmt.Sprintf("commit seq %d", widened.seq), func() error { return n.commit(ctx, widened) }); err != nil {
				return err
			}
		}
		st.Chaincode = ChaincodeState{Version: widened.version, Sequence: widened.seq, Policy: widened.policy}
		if err := n.saveState(st); err != nil {
			return err
		}
	}

	if err := n.registerMember(ctx, founders, shipment.Member{MSPID: org.MSPID, Name: strings.TrimSuffix(org.Name, "Org"),
		Capacities: []shipment.Capacity{capacity}}); err != nil {
		return err
	}

	if err := n.step("write connection profiles", n.writeProfile); err != nil {
		return err
	}
	if n.Services {
		if err := n.step("start "+n.gatewayName(org)+" on its host, with only "+org.MSPID+"'s keys", func() error { return n.StartServices(ctx) }); err != nil {
			return err
		}
	}
	st.IncompleteJoins = slices.DeleteFunc(st.IncompleteJoins, func(id string) bool { return id == org.MSPID })
	if err := n.saveState(st); err != nil {
		return err
	}
	fmt.Fprintf(n.Out, "member %s (%s, %s) added in %.1fs: host %s, peer %s, gateway %s\n",
		org.MSPID, r.Role, org.Name, time.Since(total).Seconds(), host.IP, peer.Address(), n.GatewayURLOf(org))
	return nil
}

// joinOrgTemplate is the configtx.yaml that describes the joining
// organisation alone, as the founders' is rendered (network/config/
// configtx.yaml.tmpl): same policies. configtxgen -printOrg leaves anchor
// peers out, so joinUpdate adds its anchor peer to the group itself.
var joinOrgTemplate = template.Must(template.New("org").Parse(`Organizations:
  - Name: {{.Org.MSPID}}
    ID: {{.Org.MSPID}}
    MSPDir: {{.MSPDir}}
    Policies:
      Readers:     {Type: Signature, Rule: "OR('{{.Org.MSPID}}.admin', '{{.Org.MSPID}}.peer', '{{.Org.MSPID}}.client')"}
      Writers:     {Type: Signature, Rule: "OR('{{.Org.MSPID}}.admin', '{{.Org.MSPID}}.client')"}
      Admins:      {Type: Signature, Rule: "OR('{{.Org.MSPID}}.admin')"}
      Endorsement: {Type: Signature, Rule: "OR('{{.Org.MSPID}}.peer')"}
`))

// joinUpdate computes, as by's admin, the configuration update that adds
// org (with its anchor peer) to the channel's Application group, and
// returns the unsigned envelope's path in dir ("" when the channel lists
// org already).
func (n *Network) joinUpdate(ctx context.Context, by topology.Node, org topology.Org, peer topology.Node, dir string) (string, error) {
	var sb strings.Builder
	if err := joinOrgTemplate.Execute(&sb, map[string]any{"Org": org, "MSPDir": filepath.Join(n.Layout.OrgDir(org), "msp")}); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "configtx.yaml"), []byte(sb.String()), 0o644); err != nil {
		return "", err
	}
	env := n.adminEnv(by)
	orgJSON, err := n.run(ctx, env, "configtxgen", "-configPath", dir, "-printOrg", org.MSPID)
	if err != nil {
		return "", err
	}
	var group map[string]any
	if err := json.Unmarshal(orgJSON, &group); err != nil {
		return "", fmt.Errorf("configtxgen -printOrg %s: %w", org.MSPID, err)
	}
	values, ok := group["values"].(map[string]any)
	if !ok || values["MSP"] == nil {
		return "", fmt.Errorf("configtxgen -printOrg %s printed no MSP: %s", org.MSPID, orgJSON)
	}
	// The anchor peer goes in with the organisation: the other members'
	// peers find the new one through it (gossip across organisations).
	values["AnchorPeers"] = map[string]any{"mod_policy": "Admins", "version": "0",
		"value": map[string]any{"anchor_peers": []any{map[string]any{"host": peer.IP, "port": peer.Port}}}}
	return n.updateAppOrgs(ctx, by, dir, func(orgs map[string]any) bool {
		if _, ok := orgs[org.MSPID]; ok {
			return false // the update was submitted before the join stopped
		}
		orgs[org.MSPID] = group
		return true
	})
}

// updateAppOrgs fetches the channel configuration as by's admin, lets edit
// change its Application organisations (false: nothing to change) and
// computes the update from the fetched configuration to the edited one,
// returning the unsigned envelope's path in dir ("" when nothing changes).
func (n *Network) updateAppOrgs(ctx context.Context, by topology.Node, dir string, edit func(orgs map[string]any) bool) (string, error) {
	env := n.adminEnv(by)
	cfg, original, _, err := n.fetchConfig(ctx, env, by, dir)
	if err != nil {
		return "", err
	}
	orgs, err := dig(cfg, "channel_group", "groups", "Application", "groups")
	if err != nil {
		return "", err
	}
	if !edit(orgs) {
		return "", nil
	}
	return n.configUpdate(ctx, env, dir, original, cfg)
}

// signConfig has signer's admin sign the update in file in, writing the
// signed copy to out: `peer channel signconfigtx` with that organisation's
// admin identity and nothing else, as that company would on its own
// machine before passing the file on.
func (n *Network) signConfig(ctx context.Context, signer topology.Node, in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o600); err != nil {
		return err
	}
	_, err = n.run(ctx, n.adminEnv(signer), "peer", "channel", "signconfigtx", "-f", out)
	return err
}

// checkJoined fetches the latest configuration block as the new member's
// admin (which the channel's Readers policy allows only once it is a
// member) and checks it lists the member with its anchor peer.
func (n *Network) checkJoined(ctx context.Context, peer topology.Node, dir string) error {
	work := filepath.Join(dir, "check")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	// `peer channel update` returns when an orderer accepted the update,
	// before the block is cut: until then the latest config block is the
	// previous one.
	var number uint64
	err := retry(ctx, 30*time.Second, func(ctx context.Context) error {
		cfg, _, num, err := n.fetchConfig(ctx, n.adminEnv(peer), peer, work)
		if err != nil {
			return err
		}
		number = num
		anchors, err := dig(cfg, "channel_group", "groups", "Application", "groups", peer.Org.MSPID, "values", "AnchorPeers", "value")
		if err != nil {
			return fmt.Errorf("configuration block %d: %w", number, err)
		}
		want := fmt.Sprintf(`{"host":%q,"port":%d}`, peer.IP, peer.Port)
		if b, _ := json.Marshal(anchors["anchor_peers"]); !strings.Contains(string(b), want) {
			return &permanentError{fmt.Errorf("configuration block %d: anchor peers of %s are %s, want %s", number, peer.Org.MSPID, b, want)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(n.Out, "...         configuration block %d lists %s, anchor peer %s\n", number, peer.Org.MSPID, peer.Address())
	return nil
}

// joinFromOrderer fetches the channel's block 0 from an orderer as the
// peer's organisation admin and joins the peer with it: a new member has
// no copy of the genesis block the founders made.
func (n *Network) joinFromOrderer(ctx context.Context, peer topology.Node, dir string) error {
	block := filepath.Join(dir, topology.Channel+"-block0.pb")
	env := n.adminEnv(peer)
	fetch := append([]string{"channel", "fetch", "0", block, "-c", topology.Channel}, n.ordererClientArgs(peer)...)
	if err := retry(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := n.run(ctx, env, "peer", fetch...)
		return err
	}); err != nil {
		return err
	}
	return retry(ctx, 60*time.Second, func(ctx context.Context) error {
		_, err := n.run(ctx, env, "peer", "channel", "join", "-b", block)
		if err != nil && strings.Contains(err.Error(), "already exists") {
			return nil
		}
		return err
	})
}

// waitCaughtUp waits until peer's channel height reaches the orderers'
// height as it was when the wait began.
func (n *Network) waitCaughtUp(ctx context.Context, peer topology.Node, timeout time.Duration) error {
	var target uint64
	for _, o := range n.Layout.Orderers() {
		if ch, err := n.ordererInfo(ctx, o); err == nil && ch.Height > target {
			target = ch.Height
		}
	}
	if target == 0 {
		return errors.New("no orderer reports the channel's height")
	}
	start := time.Now()
	err := retry(ctx, timeout, func(ctx context.Context) error {
		h, err := n.PeerHeight(ctx, peer)
		if err != nil {
			return err
		}
		if h < target {
			return fmt.Errorf("%s is at height %d of %d", peer.Name, h, target)
		}
		return nil
	})
	if err == nil {
		fmt.Fprintf(n.Out, "...         %s reached height %d in %.1fs\n", peer.Name, target, time.Since(start).Seconds())
	}
	return err
}

// registerMember adds m to the contract's member registry: the next member
// set is the committed one plus m; each existing member's admin approves it
// with its own identity, then one of them commits it.
func (n *Network) registerMember(ctx context.Context, founders []topology.Node, m shipment.Member) error {
	cur, err := n.memberRegistry(ctx, founders[0])
	if err != nil {
		return err
	}
	if slices.Contains(cur.MSPIDs(), m.MSPID) {
		return nil // committed before the join stopped
	}
	next := shipment.Members{Sequence: cur.Sequence + 1, Members: append(append([]shipment.Member(nil), cur.Members.Members...), m)}
	if err := next.Validate(); err != nil {
		return err
	}
	return n.voteMembers(ctx, founders, next, fmt.Sprintf("adds %s as %v", m.MSPID, m.Capacities))
}

// incompleteJoin is the joined organisation called name whose join stopped
// half way, if there is one.
func (st *State) incompleteJoin(name string) (topology.Org, bool) {
	for _, o := range st.Hosts.Joined {
		if o.Name == name+"Org" && slices.Contains(st.IncompleteJoins, o.MSPID) {
			return o, true
		}
	}
	return topology.Org{}, false
}

// collectSignatures passes the configuration update in envelope from
// admin to admin of members (the channel's members before the change) until
// a majority signed it, as the Application group's modification policy
// (MAJORITY Admins) asks: each signs with its own admin key only (`peer
// channel signconfigtx` on its own copy, kept in dir), and the last
// submits it (`peer channel update`, which adds its signature).
func (n *Network) collectSignatures(ctx context.Context, members []topology.Node, envelope, dir string) error {
	need := len(members)/2 + 1
	signed := envelope
	for i, s := range members[:need] {
		if i == need-1 {
			return n.step(fmt.Sprintf("submit the update as %s's admin (adds its own signature: %d of %d members)", s.Org.MSPID, need, len(members)), func() error {
				args := append([]string{"channel", "update", "-f", signed, "-c", topology.Channel}, n.ordererClientArgs(s)...)
				_, err := n.run(ctx, n.adminEnv(s), "peer", args...)
				return err
			})
		}
		next := filepath.Join(dir, fmt.Sprintf("update-signed-%d-%s.pb", i+1, s.Org.Label))
		if err := n.step(fmt.Sprintf("sign the update as %s's admin, with its own key only (%s)", s.Org.MSPID, filepath.Base(next)), func() error {
			return n.signConfig(ctx, s, signed, next)
		}); err != nil {
			return err
		}
		signed = next
	}
	return nil
}
