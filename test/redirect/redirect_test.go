// Package redirect_test proves `loom iptables` with real packets: network
// namespaces joined by a bridge (loom.dev/loom/test/netns), the rules
// programmed inside the "pod" namespace over netlink nftables, and real TCP
// (and UDP) connections from processes running as the app's or the proxy's
// uid. Needs root; nothing here skips.
package redirect_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"

	"loom.dev/loom/pkg/redirect"
	"loom.dev/loom/test/netns"
)

const (
	appUID   = 1000 // any uid but the proxy's
	proxyUID = 1337
	appPort  = 8080
)

// mesh is a pod namespace with listeners where Envoy and the app would
// be, a peer and a third host in the same subnet, each with IPv4 and IPv6.
type mesh struct {
	pod, peer, other    *netns.Host
	pod6, peer6, other6 string // IPv6 addresses
}

func newMesh(t *testing.T) *mesh {
	t.Helper()
	hosts := netns.Create(t, 3)
	m := &mesh{pod: hosts[0], peer: hosts[1], other: hosts[2]}
	// A ULA /64 private to this bridge (nodad: usable at once).
	v6 := func(h *netns.Host, last string) string {
		addr := "fd00:4c6f:6f6d::" + last
		out, err := exec.Command("ip", "-n", h.Name, "addr", "add", addr+"/64", "dev", "eth0", "nodad").CombinedOutput()
		if err != nil {
			t.Fatalf("adding %s to %s (the test needs IPv6 in network namespaces): %v: %s", addr, h.Name, err, out)
		}
		return addr
	}
	m.pod6, m.peer6, m.other6 = v6(m.pod, "a"), v6(m.peer, "b"), v6(m.other, "c")

	for _, nw := range []string{"tcp4", "tcp6"} {
		serve(t, m.pod, "envoy-outbound", nw, ":15001")
		serve(t, m.pod, "envoy-inbound", nw, ":15006")
		serve(t, m.pod, "app", nw, fmt.Sprintf(":%d", appPort))
		serve(t, m.pod, "app-8081", nw, ":8081")
		serve(t, m.pod, "agent-status", nw, ":15020")
		serve(t, m.peer, "peer", nw, fmt.Sprintf(":%d", appPort))
		serve(t, m.peer, "peer-9090", nw, ":9090")
		serve(t, m.other, "other", nw, fmt.Sprintf(":%d", appPort))
	}
	// As Istio's agent, bound to localhost: replies then leave from the
	// address the redirect sent the query to, and conntrack restores the
	// resolver's address on them.
	serveAs(t, m.pod, proxyUID, "agent-dns", "udp4", "127.0.0.1:15053")
	serve(t, m.peer, "peer-dns", "udp4", ":53")
	serveAs(t, m.pod, proxyUID, "agent-dns-tcp", "tcp4", "127.0.0.1:15053")
	serve(t, m.peer, "peer-dns-tcp", "tcp4", ":53")
	return m
}

func (m *mesh) app() client   { return client{host: m.pod, uid: appUID, gid: appUID} }
func (m *mesh) proxy() client { return client{host: m.pod, uid: proxyUID, gid: proxyUID} }

func (m *mesh) install(t *testing.T, args ...string) string {
	t.Helper()
	out, err := iptables(m.pod, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// expect dials and checks the answer: which listener took the connection
// and, for TCP, the original destination it read.
func expect(t *testing.T, c client, network, addr, want string) {
	t.Helper()
	got, err := c.dial(network, addr)
	if err != nil {
		t.Errorf("%v (want %q)", err, want)
		return
	}
	if got != want {
		t.Errorf("uid %d dialling %s %s reached %q, want %q", c.uid, network, addr, got, want)
	}
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

func TestRedirectWithRealPackets(t *testing.T) {
	m := newMesh(t)
	peer4 := hostPort(m.peer.IP, appPort)
	peer6 := hostPort(m.peer6, appPort)
	pod4 := hostPort(m.pod.IP, appPort)
	pod6 := hostPort(m.pod6, appPort)
	fromPeer := client{host: m.peer, uid: appUID, gid: appUID}

	t.Run("before install everything is direct", func(t *testing.T) {
		expect(t, m.app(), "tcp", peer4, "peer -")
		expect(t, fromPeer, "tcp", pod4, "app -")
	})

	t.Run("default capture", func(t *testing.T) {
		m.install(t, "--istio-local-exclude-ports", "8081")
		first := ruleCounts(t, m.pod)
		out := m.install(t, "--istio-local-exclude-ports", "8081")
		if again := ruleCounts(t, m.pod); fmt.Sprint(again) != fmt.Sprint(first) {
			t.Errorf("second run changed the rule counts from %v to %v (want a replace)", first, again)
		}
		if !strings.Contains(out, "programmed table ip6 loom") {
			t.Errorf("IPv6 is enabled in the namespace but the ip6 table was not programmed: %q", out)
		}

		// Outbound: the app's connection lands on Envoy's 15001 with the
		// original destination readable; the proxy's reaches the peer.
		expect(t, m.app(), "tcp", peer4, "envoy-outbound "+peer4)
		expect(t, m.proxy(), "tcp", peer4, "peer -")
		expect(t, client{host: m.pod, uid: appUID, gid: proxyUID}, "tcp", peer4, "peer -") // proxy gid alone
		expect(t, m.app(), "tcp6", peer6, "envoy-outbound "+peer6)
		expect(t, m.proxy(), "tcp6", peer6, "peer -")

		// Inbound: lands on 15006 except the excluded ports.
		expect(t, fromPeer, "tcp", pod4, "envoy-inbound "+pod4)
		expect(t, fromPeer, "tcp6", pod6, "envoy-inbound "+pod6)
		expect(t, fromPeer, "tcp", hostPort(m.pod.IP, 8081), "app-8081 -")
		expect(t, fromPeer, "tcp", hostPort(m.pod.IP, 15020), "agent-status -")

		// Loopback, as Istio: localhost and the pod's own address are not
		// captured for the app; the proxy calling the pod's address goes to
		// the inbound listener (app -> VIP -> Envoy -> Envoy inbound -> app);
		// Envoy's inbound passthrough from 127.0.0.6 reaches the app.
		expect(t, m.app(), "tcp", "127.0.0.1:8080", "app -")
		expect(t, m.app(), "tcp", pod4, "app -")
		expect(t, m.proxy(), "tcp", pod4, "envoy-inbound "+pod4)
		expect(t, client{host: m.pod, uid: proxyUID, gid: proxyUID, bind: "127.0.0.6"}, "tcp", pod4, "app -")
		expect(t, m.app(), "tcp6", "[::1]:8080", "app -")
		expect(t, m.proxy(), "tcp6", pod6, "envoy-inbound "+pod6)
		expect(t, client{host: m.pod, uid: proxyUID, gid: proxyUID, bind: "::6"}, "tcp6", pod6, "app -")
	})

	t.Run("excluded outbound ports and CIDRs bypass", func(t *testing.T) {
		m.install(t, "--istio-local-outbound-ports-exclude", "9090",
			"--istio-service-exclude-cidr", m.other.IP+"/32,"+m.other6+"/128")
		expect(t, m.app(), "tcp", hostPort(m.peer.IP, 9090), "peer-9090 -")
		expect(t, m.app(), "tcp", hostPort(m.other.IP, appPort), "other -")
		expect(t, m.app(), "tcp6", hostPort(m.other6, appPort), "other -")
		expect(t, m.app(), "tcp", peer4, "envoy-outbound "+peer4)
	})

	t.Run("included CIDRs only, no inbound capture", func(t *testing.T) {
		m.install(t, "--istio-service-cidr", m.peer.IP+"/32", "--istio-inbound-ports", "")
		expect(t, m.app(), "tcp", peer4, "envoy-outbound "+peer4)
		expect(t, m.app(), "tcp", hostPort(m.other.IP, appPort), "other -")
		expect(t, m.app(), "tcp6", peer6, "peer -") // no IPv6 range included
		expect(t, fromPeer, "tcp", pod4, "app -")
	})

	t.Run("included outbound ports and inbound ports", func(t *testing.T) {
		m.install(t, "--istio-service-cidr", "", "--istio-outbound-ports", "9090", "--istio-inbound-ports", "8081")
		expect(t, m.app(), "tcp", hostPort(m.peer.IP, 9090), "envoy-outbound "+hostPort(m.peer.IP, 9090))
		expect(t, m.app(), "tcp", peer4, "peer -")
		expect(t, fromPeer, "tcp", hostPort(m.pod.IP, 8081), "envoy-inbound "+hostPort(m.pod.IP, 8081))
		expect(t, fromPeer, "tcp", pod4, "app -")
	})

	t.Run("DNS capture", func(t *testing.T) {
		m.install(t, "--redirect-dns", "--capture-all-dns")
		dns := hostPort(m.peer.IP, 53)
		expect(t, m.app(), "udp", dns, "agent-dns")
		expect(t, m.proxy(), "udp", dns, "peer-dns")
		expect(t, m.app(), "tcp", dns, "agent-dns-tcp "+dns)
		expect(t, m.proxy(), "tcp", dns, "peer-dns-tcp -")
	})

	t.Run("cleanup restores direct connectivity and touches nothing else", func(t *testing.T) {
		fd := nsFd(t, m.pod)
		keep := addForeignTable(t, fd)
		m.install(t)
		out, err := iptables(m.pod, "--cleanup")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "deleted table ip loom") || !strings.Contains(out, "deleted table ip6 loom") {
			t.Errorf("cleanup printed %q", out)
		}
		assertNoLoomTables(t, fd)
		if ok, err := foreignTableExists(fd, keep); err != nil || !ok {
			t.Errorf("cleanup removed the unrelated table %s (err %v)", keep, err)
		}
		expect(t, m.app(), "tcp", peer4, "peer -")
		expect(t, m.app(), "tcp6", peer6, "peer -")
		expect(t, fromPeer, "tcp", pod4, "app -")
		if out, err := iptables(m.pod, "--cleanup"); err != nil || !strings.Contains(out, "no loom table") {
			t.Errorf("second cleanup: %q, %v", out, err)
		}
	})

	t.Run("dry run changes nothing", func(t *testing.T) {
		fd := nsFd(t, m.pod)
		out, err := iptables(m.pod, "--dry-run", "--istio-service-exclude-cidr", "10.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "table ip loom {") || !strings.Contains(out, "ip daddr 10.0.0.0/8 return") {
			t.Errorf("dry run printed no rules:\n%s", out)
		}
		assertNoLoomTables(t, fd)
		expect(t, m.app(), "tcp", peer4, "peer -")
	})
}

func TestBadFlagsFailNamingTheFlag(t *testing.T) {
	h := netns.Create(t, 1)[0]
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--istio-service-cidr", "10.0.0.0/33"}, "--istio-service-cidr"},
		{[]string{"--istio-local-exclude-ports", "80,99999"}, "--istio-local-exclude-ports"},
		{[]string{"--istio-inbound-interception-mode", "TPROXY"}, "--istio-inbound-interception-mode"},
		{[]string{"--envoy-port", "0"}, "--envoy-port"},
	} {
		_, err := iptables(h, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loom iptables %v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
	assertNoLoomTables(t, nsFd(t, h))
}

// ruleCounts lists the rules per chain of Loom's tables.
func ruleCounts(t *testing.T, h *netns.Host) map[string]int {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(nsFd(t, h)))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		chains, err := c.ListChainsOfTableFamily(fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chains {
			if ch.Table.Name != redirect.TableName {
				continue
			}
			rules, err := c.GetRules(ch.Table, ch)
			if err != nil {
				t.Fatal(err)
			}
			counts[fmt.Sprintf("%d/%s", fam, ch.Name)] = len(rules)
		}
	}
	if len(counts) == 0 {
		t.Fatalf("no chains of table %s in %s", redirect.TableName, h.Name)
	}
	return counts
}

func assertNoLoomTables(t *testing.T, fd int) {
	t.Helper()
	for _, f := range []redirect.Family{redirect.IPv4, redirect.IPv6} {
		ok, err := redirect.TableExists(redirect.Namespace{NetNSFd: fd}, f)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Errorf("table %s %s exists", f, redirect.TableName)
		}
	}
}

// addForeignTable makes a table Loom does not own ("ip keepme").
func addForeignTable(t *testing.T, fd int) string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	c.AddTable(&nftables.Table{Name: "keepme", Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil {
		t.Fatalf("adding table ip keepme: %v", err)
	}
	return "keepme"
}

func foreignTableExists(fd int, name string) (bool, error) {
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return false, err
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, err
	}
	for _, tb := range tables {
		if tb.Name == name {
			return true, nil
		}
	}
	return false, nil
}
