package localnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/shipment"
)

// A member leaves (`shipnet org remove`, network/README.md "Removing a
// member"): the remaining members take it out of the member registry, out
// of the endorsement policy and out of the channel configuration, each
// change approved or signed by them with their own keys, then its
// processes stop and its host goes. Only a member that joined can leave
// here: the founding three are fixed in the topology. Its shipments must
// have been handed over (or closed) before: one it is still a party to can
// never change again, since its key policy names the member's peer.

// RemoveOrg takes the member called name (as given to org add) out of the
// running hosts network.
func (n *Network) RemoveOrg(ctx context.Context, name string) error {
	total := time.Now()
	st, err := n.LoadState()
	if err != nil {
		return fmt.Errorf("no network in %s: %w", n.Layout.Home, err)
	}
	if st.Hosts == nil {
		return errors.New("org remove needs the hosts layout (`shipnet up --hosts`); the one-host layout has the founding three only")
	}
	n.Layout.Hosts = st.Hosts
	org, ok := n.Layout.OrgByMSPID(name + "MSP")
	if !ok || !slices.Contains(st.Hosts.Joined, org) {
		return fmt.Errorf("%s is not a member that joined this network (org add); the founding three are fixed in the topology", name)
	}
	if slices.Contains(st.IncompleteJoins, org.MSPID) {
		return fmt.Errorf("the join of %s stopped half way: finish it (org add again) before removing it", org.MSPID)
	}
	leaving, _ := n.Layout.PeerOf(org.MSPID)
	all := n.Layout.Peers()
	remaining := slices.DeleteFunc(slices.Clone(all), func(p topology.Node) bool { return p.Org == org })
	dir := filepath.Join(n.joinDir(org), "leave")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	if err := n.unregisterMember(ctx, remaining, org.MSPID); err != nil {
		return err
	}

	var ids []string
	for _, p := range remaining {
		ids = append(ids, "'"+p.Org.MSPID+".peer'")
	}
	narrowed := definition{topology.Chaincode, st.Chaincode.Version, st.Chaincode.Sequence + 1, "OutOf(2," + strings.Join(ids, ",") + ")"}
	pkgID := runningPackage(st)
	if st.Chaincode.Policy != narrowed.policy {
		done, err := n.committedOnChannel(ctx, remaining[0], narrowed)
		if err != nil {
			return err
		}
		if !done {
			for _, p := range remaining {
				if err := n.step(fmt.Sprintf("approve seq %d (policy %s) as %s's admin", narrowed.seq, narrowed.policy, p.Org.MSPID), func() error {
					return n.approve(ctx, p, narrowed, pkgID)
				}); err != nil {
					return err
				}
			}
			if err := n.step(fmt.Sprintf("commit seq %d, endorsed by the remaining members' peers", narrowed.seq), func() error {
				return n.commitOn(ctx, narrowed, remaining)
			}); err != nil {
				return err
			}
		}
		st.Chaincode = ChaincodeState{Version: narrowed.version, Sequence: narrowed.seq, Policy: narrowed.policy}
		if err := n.saveState(st); err != nil {
			return err
		}
	}

	var envelope string
	if err := n.step("compute the channel configuration update removing "+org.MSPID, func() error {
		envelope, err = n.leaveUpdate(ctx, remaining[0], org, dir)
		return err
	}); err != nil {
		return err
	}
	if envelope != "" {
		// A majority of the members before the change (the leaving one
		// last, so the remaining sign first).
		if err := n.collectSignatures(ctx, append(slices.Clone(remaining), leaving), envelope, dir); err != nil {
			return err
		}
	}
	if err := n.step("check the new configuration block no longer lists "+org.MSPID, func() error {
		return retry(ctx, 30*time.Second, func(ctx context.Context) error {
			work := filepath.Join(dir, "check")
			if err := os.MkdirAll(work, 0o755); err != nil {
				return err
			}
			cfg, _, number, err := n.fetchConfig(ctx, n.adminEnv(remaining[0]), remaining[0], work)
			if err != nil {
				return err
			}
			orgs, err := dig(cfg, "channel_group", "groups", "Application", "groups")
			if err != nil {
				return err
			}
			if _, ok := orgs[org.MSPID]; ok {
				return fmt.Errorf("configuration block %d still lists %s", number, org.MSPID)
			}
			fmt.Fprintf(n.Out, "...         configuration block %d no longer lists %s\n", number, org.MSPID)
			return nil
		})
	}); err != nil {
		return err
	}

	host := n.Layout.Host(org.Label)
	if err := n.step(fmt.Sprintf("stop %s's processes and remove its host %s", org.MSPID, host.NetNS), func() error {
		names := []string{n.gatewayName(org), leaving.Name, "ca." + org.Label}
		for _, slot := range ccServerSlots {
			names = append(names, ccServerNameAt(leaving, slot))
		}
		if err := inParallel(names, func(name string) error {
			return proc.Stop(ctx, n.Layout.PIDFile(name), 15*time.Second)
		}); err != nil {
			return err
		}
		if err := ip(ctx, "netns", "del", host.NetNS); err != nil && !strings.Contains(err.Error(), "No such file") {
			return err
		}
		// Its veth went with the namespace's end; delete the root end if left.
		if err := ip(ctx, "link", "del", host.Veth); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			return err
		}
		return nil
	}); err != nil {
		return err
	}
	st.Hosts.Left = append(st.Hosts.Left, org.MSPID)
	delete(st.Packages, org.MSPID)
	if err := n.saveState(st); err != nil {
		return err
	}
	n.Layout.Hosts = st.Hosts
	if err := n.step("write connection profiles", func() error {
		if err := os.Remove(n.orgProfile(org)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return n.writeProfile()
	}); err != nil {
		return err
	}
	fmt.Fprintf(n.Out, "member %s removed in %.1fs; its crypto material, ledger copy and logs stay in %s until down\n",
		org.MSPID, time.Since(total).Seconds(), n.Layout.Home)
	return nil
}

// leaveUpdate computes, as by's admin, the configuration update that
// removes org's group from the channel's Application group ("" when the
// channel no longer lists it).
func (n *Network) leaveUpdate(ctx context.Context, by topology.Node, org topology.Org, dir string) (string, error) {
	return n.updateAppOrgs(ctx, by, dir, func(orgs map[string]any) bool {
		if _, ok := orgs[org.MSPID]; !ok {
			return false // removed before a stopped run
		}
		delete(orgs, org.MSPID)
		return true
	})
}

// unregisterMember takes mspID out of the contract's member registry: the
// next member set is the committed one without it, approved by each of the
// remaining members' admins (a majority of the current members), then
// committed by one of them.
func (n *Network) unregisterMember(ctx context.Context, remaining []topology.Node, mspID string) error {
	cur, err := n.memberRegistry(ctx, remaining[0])
	if err != nil {
		return err
	}
	if !slices.Contains(cur.MSPIDs(), mspID) {
		return nil // removed before a stopped run
	}
	next := shipment.Members{Sequence: cur.Sequence + 1,
		Members: slices.DeleteFunc(slices.Clone(cur.Members.Members), func(m shipment.Member) bool { return m.MSPID == mspID })}
	return n.voteMembers(ctx, remaining, next, "without "+mspID)
}
