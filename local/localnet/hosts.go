package localnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/shiptrace/shiptrace/local/proc"
	"github.com/shiptrace/shiptrace/local/topology"
)

// The hosts layout (`shipnet up --hosts`): every organisation and every
// orderer on a Linux network namespace of its own, joined by veth pairs to a
// bridge in the root namespace. Nothing but iproute2 is needed; traffic stays
// on this machine. Names carry the data directory's tag (topology.HostTag),
// so `down` removes exactly this network's namespaces and links, also when
// network.json is gone after a crash.

// ChooseHosts picks the hosts' /24 for the data directory: 10.<s>.0.0/24
// with s from the directory's tag, moved on while it overlaps a network this
// machine already routes or holds an address in.
func ChooseHosts(home string) (*topology.Hosts, error) {
	tag := topology.HostTag(home)
	seed, _ := strconv.ParseUint(tag[2:], 16, 32)
	used, err := usedNetworks()
	if err != nil {
		return nil, err
	}
	for i := 0; i < 100; i++ {
		s := 100 + (int(seed)+i)%150
		_, cidr, _ := net.ParseCIDR(fmt.Sprintf("10.%d.0.0/24", s))
		if !overlapsAny(cidr, used) {
			return &topology.Hosts{Tag: tag, Subnet: s}, nil
		}
	}
	return nil, errors.New("no free 10.x.0.0/24 (x in 100..249) for the hosts' network: this machine routes all of them")
}

// usedNetworks are the IPv4 networks of this machine's addresses and routes.
func usedNetworks() ([]*net.IPNet, error) {
	var out []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			out = append(out, ipn)
		}
	}
	b, err := exec.Command(proc.IPCommand, "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("ip route: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if dst == "local" || dst == "broadcast" || dst == "unicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if _, ipn, err := net.ParseCIDR(dst); err == nil {
			out = append(out, ipn)
		}
	}
	return out, nil
}

func overlapsAny(n *net.IPNet, others []*net.IPNet) bool {
	for _, o := range others {
		if n.Contains(o.IP) || o.Contains(n.IP) {
			return true
		}
	}
	return false
}

// RequireNamespaces says precisely what is missing when this machine cannot
// run the hosts layout: root, iproute2, or the kernel's permission to make a
// network namespace (an unprivileged container).
func RequireNamespaces() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the hosts layout needs root (network namespaces, veth pairs, a bridge); running as uid %d", os.Geteuid())
	}
	if _, err := os.Stat(proc.IPCommand); err != nil {
		return fmt.Errorf("the hosts layout needs iproute2's %s (apt-get install iproute2): %w", proc.IPCommand, err)
	}
	probe := "stprobe" + strconv.Itoa(os.Getpid())
	if out, err := exec.Command(proc.IPCommand, "netns", "add", probe).CombinedOutput(); err != nil {
		return fmt.Errorf("cannot create a network namespace (`ip netns add`: %v: %s): the hosts layout needs CAP_SYS_ADMIN and CAP_NET_ADMIN", err, bytes.TrimSpace(out))
	}
	_ = exec.Command(proc.IPCommand, "netns", "del", probe).Run()
	out, err := exec.Command(proc.IPCommand, "link", "add", probe+"b", "type", "bridge").CombinedOutput()
	if err != nil {
		return fmt.Errorf("cannot create a bridge (`ip link add type bridge`: %v: %s): the kernel needs the bridge module", err, bytes.TrimSpace(out))
	}
	_ = exec.Command(proc.IPCommand, "link", "del", probe+"b").Run()
	return nil
}

// ip runs one iproute2 command.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, proc.IPCommand, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// CreateHosts makes the bridge, then for every host its namespace, a veth
// pair (root end on the bridge, other end eth0 in the namespace) and its
// address. Leftovers of an earlier run with the same tag are removed first.
func (n *Network) CreateHosts(ctx context.Context) error {
	h := n.Layout.Hosts
	if err := RemoveHosts(ctx, h.Tag); err != nil {
		return err
	}
	br := h.Bridge()
	for _, args := range [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", h.GatewayIP() + "/24", "dev", br},
		{"link", "set", br, "up"},
	} {
		if err := ip(ctx, args...); err != nil {
			return err
		}
	}
	for _, host := range n.Layout.AllHosts() {
		if err := createHost(ctx, h, host); err != nil {
			return err
		}
	}
	return nil
}

// createHost makes one host on the hosts' bridge: its namespace, a veth pair
// (root end on the bridge, eth0 inside) and its address.
func createHost(ctx context.Context, h *topology.Hosts, host topology.Host) error {
	br := h.Bridge()
	peer := host.Veth + "p"
	for _, args := range [][]string{
		{"netns", "add", host.NetNS},
		{"link", "add", host.Veth, "type", "veth", "peer", "name", peer},
		{"link", "set", host.Veth, "master", br},
		{"link", "set", host.Veth, "up"},
		{"link", "set", peer, "netns", host.NetNS},
		{"-n", host.NetNS, "link", "set", peer, "name", "eth0"},
		{"-n", host.NetNS, "addr", "add", host.IP + "/24", "dev", "eth0"},
		{"-n", host.NetNS, "link", "set", "eth0", "up"},
		{"-n", host.NetNS, "link", "set", "lo", "up"},
	} {
		if err := ip(ctx, args...); err != nil {
			return fmt.Errorf("host %s: %w", host.Name, err)
		}
	}
	return nil
}

// RemoveHosts deletes every namespace and link whose name starts with tag:
// what createHosts made, whatever state the network was left in. Deleting a
// namespace kills nothing by itself, so the processes are stopped first by
// the caller.
func RemoveHosts(ctx context.Context, tag string) error {
	var errs []error
	b, err := exec.CommandContext(ctx, proc.IPCommand, "netns", "list").Output()
	if err != nil {
		return fmt.Errorf("ip netns list: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], tag+"-") {
			if err := ip(ctx, "netns", "del", f[0]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	links, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Name, tag) {
			// A veth whose other end went with its namespace is gone already.
			if err := ip(ctx, "link", "del", l.Name); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists the namespaces and links of the network tagged tag that
// still exist (tests check `down` leaves none).
func Leftovers(tag string) ([]string, error) {
	var out []string
	b, err := exec.Command(proc.IPCommand, "netns", "list").Output()
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], tag+"-") {
			out = append(out, "netns "+f[0])
		}
	}
	links, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if strings.HasPrefix(l.Name, tag) {
			out = append(out, "link "+l.Name)
		}
	}
	return out, nil
}

// SetLink takes a host's link to the bridge down (cut off: it reaches no
// other host, and none reaches it) or up again. Only the namespace's
// traffic is affected; its processes keep running.
func (n *Network) SetLink(ctx context.Context, host string, up bool) error {
	if n.Layout.Hosts == nil {
		return errors.New("the network does not run on hosts (up --hosts)")
	}
	state := "down"
	if up {
		state = "up"
	}
	return ip(ctx, "link", "set", n.Layout.Host(host).Veth, state)
}

// Isolate cuts a host off from every other host of the network, or (cut
// false) reconnects it: each side gets an `unreachable` route to the other's
// address, as a router answers when the member's link to the consortium is
// down, so both sides see it at once. Unlike SetLink the bridge's own
// address (this machine: shipnet, the tests, standing for the member's
// office network) still reaches the host, so the cut-off member's gateway
// can be asked what it answers; its processes keep running.
func (n *Network) Isolate(ctx context.Context, host string, cut bool) error {
	var others []string
	for _, h := range n.Layout.AllHosts() {
		if h.Name != host {
			others = append(others, h.Name)
		}
	}
	return n.IsolateFrom(ctx, host, others, cut)
}

// IsolateFrom is Isolate between host and the named others only (for
// example the exporter and the WhatsApp stand-in's host: Meta's cloud out of
// reach while the consortium still is).
func (n *Network) IsolateFrom(ctx context.Context, host string, others []string, cut bool) error {
	if n.Layout.Hosts == nil {
		return errors.New("the network does not run on hosts (up --hosts)")
	}
	h := n.Layout.Host(host)
	op := "del"
	if cut {
		op = "add"
	}
	var errs []error
	route := func(ns, ipAddr string) {
		err := ip(ctx, "-n", ns, "route", op, "unreachable", ipAddr+"/32")
		if err != nil && !(cut && strings.Contains(err.Error(), "File exists")) && !(!cut && strings.Contains(err.Error(), "No such process")) {
			errs = append(errs, err)
		}
	}
	for _, name := range others {
		other := n.Layout.Host(name)
		route(h.NetNS, other.IP)
		route(other.NetNS, h.IP)
	}
	return errors.Join(errs...)
}

// PeerHeight is the channel height a peer reports on its operations
// endpoint.
func (n *Network) PeerHeight(ctx context.Context, p topology.Node) (uint64, error) {
	c, err := n.opsClient(p)
	if err != nil {
		return 0, err
	}
	return c.peerHeight(ctx)
}

// hostsMissing reports whether a host's namespace or the bridge is gone.
func (n *Network) hostsMissing() bool {
	left, err := Leftovers(n.Layout.Hosts.Tag)
	if err != nil {
		return true
	}
	have := map[string]bool{}
	for _, l := range left {
		have[l] = true
	}
	if !have["link "+n.Layout.Hosts.Bridge()] {
		return true
	}
	for _, h := range n.Layout.AllHosts() {
		if !have["netns "+h.NetNS] || !have["link "+h.Veth] {
			return true
		}
	}
	return false
}
