package devcluster

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// nodeNetwork is where the real node's pods live: a private /24 on a bridge of its own. The
// bridge's address is the node's: kube-apiserver and kubelet listen there, so that pods can
// reach both.
type nodeNetwork struct {
	Bridge  string
	Subnet  netip.Prefix
	Gateway netip.Addr
}

const (
	nodeBridge = "loom0"
	// egressGuardChain drops forwarded traffic between the pod bridge and any other interface,
	// so that no pod packet leaves the machine. It lives in the mangle table, which is
	// traversed before the filter table where kube-proxy and the CNI plugins accept traffic.
	egressGuardChain = "LOOM-EGRESS-GUARD"
	// serviceCIDR is envtest's service range; the node must not overlap it.
	serviceCIDR = "10.0.0.0/24"
	// clusterDNSIP is the kube-dns Service address inside serviceCIDR.
	clusterDNSIP = "10.0.0.10"
)

// nodeSubnetCandidates are tried in order; test/netns takes its subnets from 10.244.0.0/16.
var nodeSubnetCandidates = func() []netip.Prefix {
	var out []netip.Prefix
	for i := range 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 0}), 24))
	}
	return out
}()

// pickNodeNetwork returns the first candidate subnet that overlaps no prefix in use on the host.
func pickNodeNetwork(inUse []netip.Prefix) (nodeNetwork, error) {
	reserved := append([]netip.Prefix{netip.MustParsePrefix(serviceCIDR)}, inUse...)
next:
	for _, subnet := range nodeSubnetCandidates {
		for _, p := range reserved {
			if p.Overlaps(subnet) {
				continue next
			}
		}
		return nodeNetwork{Bridge: nodeBridge, Subnet: subnet, Gateway: subnet.Addr().Next()}, nil
	}
	return nodeNetwork{}, fmt.Errorf("no free pod subnet for the real node: every one of %s..%s overlaps an address or route on this host",
		nodeSubnetCandidates[0], nodeSubnetCandidates[len(nodeSubnetCandidates)-1])
}

// hostPrefixesInUse lists the IPv4 prefixes of the host's addresses and main routing table
// (default routes excluded: they overlap everything).
func hostPrefixesInUse() ([]netip.Prefix, error) {
	var out []netip.Prefix
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			out = append(out, p.Masked())
		}
	}
	routes, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil, err
	}
	routeList, err := parseProcNetRoute(string(routes))
	if err != nil {
		return nil, err
	}
	return append(out, routeList...), nil
}

// parseProcNetRoute reads /proc/net/route: addresses are 32-bit values in the host's
// (little-endian) byte order, printed in hex.
func parseProcNetRoute(text string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		dst, err1 := hex.DecodeString(f[1])
		mask, err2 := hex.DecodeString(f[7])
		if err1 != nil || err2 != nil || len(dst) != 4 || len(mask) != 4 {
			return nil, fmt.Errorf("/proc/net/route: malformed line %q", sc.Text())
		}
		bits := 0
		for m := binary.LittleEndian.Uint32(mask); m != 0; m >>= 1 {
			bits += int(m & 1)
		}
		if bits == 0 {
			continue
		}
		addr := netip.AddrFrom4([4]byte{dst[3], dst[2], dst[1], dst[0]})
		out = append(out, netip.PrefixFrom(addr, bits).Masked())
	}
	return out, sc.Err()
}

// egressGuardRules are the iptables/ip6tables arguments that install the guard.
func egressGuardRules(bridge string) [][]string {
	return [][]string{
		{"-t", "mangle", "-N", egressGuardChain},
		{"-t", "mangle", "-A", egressGuardChain, "-i", bridge, "!", "-o", bridge, "-j", "DROP",
			"-m", "comment", "--comment", "loom real node: pod traffic never leaves the machine"},
		{"-t", "mangle", "-A", egressGuardChain, "!", "-i", bridge, "-o", bridge, "-j", "DROP",
			"-m", "comment", "--comment", "loom real node: nothing from outside reaches a pod"},
		{"-t", "mangle", "-I", "FORWARD", "1", "-j", egressGuardChain},
	}
}

// setUpNodeNetwork snapshots the firewall, creates the bridge and installs the egress guard,
// recording how to undo each step.
func setUpNodeNetwork(h *hostChanges, n nodeNetwork, firewallSnapshot string) error {
	ruleset, err := exec.Command("nft", "list", "ruleset").Output()
	if err != nil {
		return fmt.Errorf("saving the firewall (nft list ruleset): %w", err)
	}
	if err := writeAtomic(firewallSnapshot, ruleset, 0o600); err != nil {
		return err
	}
	// The whole ruleset comes back as it was: kube-proxy, kubelet and the CNI plugins add
	// chains of their own that are not worth tracking one by one.
	if err := h.record("firewall rules", fmt.Sprintf("nft flush ruleset && nft -f %s", shellQuote(firewallSnapshot))); err != nil {
		return err
	}
	if _, err := net.InterfaceByName(n.Bridge); err == nil {
		return fmt.Errorf("bridge %s already exists: a real node that was not cleaned up? remove it with `ip link del %s`", n.Bridge, n.Bridge)
	}
	if err := h.record("bridge "+n.Bridge, "ip link del "+n.Bridge+" 2>/dev/null || ! ip link show "+n.Bridge+" >/dev/null 2>&1"); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", n.Bridge, "type", "bridge"},
		{"addr", "add", netip.PrefixFrom(n.Gateway, n.Subnet.Bits()).String(), "dev", n.Bridge},
		{"link", "set", n.Bridge, "up"},
	} {
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, args := range egressGuardRules(n.Bridge) {
			if err := run(tool, append([]string{"-w"}, args...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// egressGuardDrops returns the packets the guard has dropped (IPv4).
func egressGuardDrops() (int, error) {
	out, err := exec.Command("iptables", "-w", "-t", "mangle", "-L", egressGuardChain, "-n", "-v", "-x").Output()
	if err != nil {
		return 0, fmt.Errorf("reading the egress guard's counters: %w", err)
	}
	total := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[2] == "DROP" {
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return 0, fmt.Errorf("egress guard counters: %q", line)
			}
			total += n
		}
	}
	return total, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

var errNotRoot = errors.New("the real node needs root (kubelet, containerd and the pod network change the host); run as root, or leave out --real-node for fake kwok nodes only")
