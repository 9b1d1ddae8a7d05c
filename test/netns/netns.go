// Package netns gives tests hosts with real, non-loopback IPv4 addresses:
// Linux network namespaces joined by a bridge in the root namespace, in a
// private /24 that only they use.
//
// Layout of one Network (pid = the test process id, k/j = per-process
// counters):
//
//	root namespace: bridge ltb<pid>g<k> with 10.244.X.1/24 (Network.Gateway)
//	namespace loomt-<pid>-<j>: lo up, eth0 = 10.244.X.(10+i)/24 (Host.IP)
//	  whose peer ltv<pid>n<j> sits on the bridge
//
// X is chosen, under a machine-wide file lock, as the first /24 in
// 10.244.0.0/16 (starting at one derived from the pid) that overlaps no
// address or route of the root namespace, so concurrent test processes get
// disjoint subnets. The namespaces have no default route: a host reaches the
// other hosts of its Network and the gateway address (which belongs to the
// root namespace, so a server in the root namespace listening on the gateway
// address or on 0.0.0.0 is reachable from the hosts), nothing else. The root
// namespace reaches every host through the bridge's connected route.
//
// Close removes the namespaces, veths and bridge (after killing processes
// still running inside the namespaces). New also removes what earlier,
// killed test processes left behind: any loomt-<pid>-*, ltb<pid>g*,
// ltv<pid>n*, ltp<pid>n* whose pid no longer runs.
//
// Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and the
// iproute2 "ip" command; without them New returns an error saying so (it
// never skips).
package netns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// LockFile serialises subnet selection and stale cleanup across processes.
const LockFile = "/run/loomt-netns.lock"

// Supernet is the range subnets are taken from.
var Supernet = netip.MustParsePrefix("10.244.0.0/16")

// MaxHosts is the largest n accepted by New (addresses .10 to .254).
const MaxHosts = 245

var (
	groupSeq atomic.Int64
	hostSeq  atomic.Int64
	procMu   sync.Mutex // serialises New/CleanupStale within the process (the flock does across processes)

	nsRe     = regexp.MustCompile(`^loomt-(\d+)-\d+$`)
	bridgeRe = regexp.MustCompile(`^ltb(\d+)g\d+$`)
	vethRe   = regexp.MustCompile(`^lt[vp](\d+)n\d+$`)
)

// Host is one network namespace with its own address.
type Host struct {
	// Name is the namespace name (usable with "ip netns exec").
	Name string
	// IP is the host's IPv4 address, e.g. "10.244.37.10".
	IP string
	// Gateway is the root namespace's address on the same /24, e.g.
	// "10.244.37.1": the address by which processes in the namespace reach
	// servers in the root namespace.
	Gateway string
	// Subnet is the /24 shared by the hosts of one Network, e.g. "10.244.37.0/24".
	Subnet string
	// Veth is the root-namespace end of the host's veth pair.
	Veth string

	ip string // path of the ip command
}

// Command returns a command running name with args inside the namespace
// (ip netns exec NAME name args...). The process inherits the environment
// given in cmd.Env (or the test process's environment). cmd.Process.Pid is
// the pid of the program itself (ip netns exec execs it). SysProcAttr is set
// so that the process gets SIGKILL if the test process dies (Pdeathsig);
// replace it to opt out.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(h.ip, append([]string{"netns", "exec", h.Name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// CommandContext is Command with a context (the process is killed when ctx
// is done).
func (h *Host) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, h.ip, append([]string{"netns", "exec", h.Name, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Addr returns "IP:port".
func (h *Host) Addr(port int) string { return h.IP + ":" + strconv.Itoa(port) }

// Network is a set of hosts on one bridge.
type Network struct {
	Hosts   []*Host
	Bridge  string // root-namespace bridge name
	Gateway string // bridge address, e.g. "10.244.37.1"
	Subnet  string // e.g. "10.244.37.0/24"

	ip        string
	closeOnce sync.Once
	closeErr  error
}

// Create makes n hosts for the test and removes them in t.Cleanup. It calls
// t.Fatal if they cannot be made (e.g. not root).
func Create(t testing.TB, n int) []*Host {
	t.Helper()
	return CreateNetwork(t, n).Hosts
}

// CreateNetwork is Create returning the Network (for its Gateway).
func CreateNetwork(t testing.TB, n int) *Network {
	t.Helper()
	nw, err := New(n)
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		if err := nw.Close(); err != nil {
			t.Errorf("netns cleanup: %v", err)
		}
	})
	return nw
}

// IPCommand returns the path of the iproute2 ip command.
func IPCommand() (string, error) {
	if p, err := exec.LookPath("ip"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the iproute2 ip command is not installed (apt-get install iproute2)")
}

func run(ipPath string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command(ipPath, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func output(ipPath string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(ipPath, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func lock() (release func(), err error) {
	f, err := os.OpenFile(LockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", LockFile, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

func checkRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("creating network namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); running as uid %d", os.Geteuid())
	}
	return nil
}

// New creates n hosts on a fresh bridge. Call Close to remove them.
func New(n int) (*Network, error) {
	if n < 1 || n > MaxHosts {
		return nil, fmt.Errorf("netns: n = %d, want 1..%d", n, MaxHosts)
	}
	if err := checkRoot(); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	ipPath, err := IPCommand()
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	procMu.Lock()
	defer procMu.Unlock()
	release, err := lock()
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	defer release()

	if err := cleanupStale(ipPath); err != nil {
		return nil, fmt.Errorf("netns: removing stale namespaces: %w", err)
	}
	subnet, err := pickSubnet(ipPath)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	pid := os.Getpid()
	base := subnet.Addr().As4()
	addrAt := func(last byte) string {
		a := base
		a[3] = last
		return netip.AddrFrom4(a).String()
	}
	nw := &Network{
		Bridge:  fmt.Sprintf("ltb%dg%d", pid, groupSeq.Add(1)),
		Gateway: addrAt(1),
		Subnet:  subnet.String(),
		ip:      ipPath,
	}
	if len(nw.Bridge) > 15 {
		return nil, fmt.Errorf("netns: interface name %q too long", nw.Bridge)
	}
	fail := func(err error) (*Network, error) {
		if cerr := nw.close(); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
		return nil, fmt.Errorf("netns: %w", err)
	}
	if err := run(ipPath, "link", "add", nw.Bridge, "type", "bridge"); err != nil {
		return fail(err)
	}
	if err := run(ipPath, "addr", "add", nw.Gateway+"/24", "dev", nw.Bridge); err != nil {
		return fail(err)
	}
	if err := run(ipPath, "link", "set", nw.Bridge, "up"); err != nil {
		return fail(err)
	}
	for i := range n {
		j := hostSeq.Add(1)
		h := &Host{
			Name:    fmt.Sprintf("loomt-%d-%d", pid, j),
			IP:      addrAt(byte(10 + i)),
			Gateway: nw.Gateway,
			Subnet:  nw.Subnet,
			Veth:    fmt.Sprintf("ltv%dn%d", pid, j),
			ip:      ipPath,
		}
		peer := fmt.Sprintf("ltp%dn%d", pid, j)
		if len(h.Veth) > 15 {
			return fail(fmt.Errorf("interface name %q too long", h.Veth))
		}
		nw.Hosts = append(nw.Hosts, h)
		steps := [][]string{
			{"netns", "add", h.Name},
			{"link", "add", h.Veth, "type", "veth", "peer", "name", peer, "netns", h.Name},
			{"link", "set", h.Veth, "master", nw.Bridge},
			{"link", "set", h.Veth, "up"},
			{"-n", h.Name, "link", "set", peer, "name", "eth0"},
			{"-n", h.Name, "addr", "add", h.IP + "/24", "dev", "eth0"},
			{"-n", h.Name, "link", "set", "eth0", "up"},
			{"-n", h.Name, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if err := run(ipPath, s...); err != nil {
				return fail(err)
			}
		}
	}
	return nw, nil
}

// Close kills the processes left inside the namespaces and removes the
// namespaces, veths and bridge. It is idempotent.
func (nw *Network) Close() error {
	nw.closeOnce.Do(func() {
		procMu.Lock()
		defer procMu.Unlock()
		nw.closeErr = nw.close()
	})
	return nw.closeErr
}

func (nw *Network) close() error {
	var errs []error
	for _, h := range nw.Hosts {
		errs = append(errs, removeNamespace(nw.ip, h.Name))
		errs = append(errs, removeLink(nw.ip, h.Veth))
	}
	errs = append(errs, removeLink(nw.ip, nw.Bridge))
	return errors.Join(errs...)
}

func removeLink(ipPath, name string) error {
	if !linkExists(ipPath, name) {
		return nil
	}
	if err := run(ipPath, "link", "del", name); err != nil && linkExists(ipPath, name) {
		return err
	}
	return nil
}

func linkExists(ipPath, name string) bool {
	return exec.Command(ipPath, "link", "show", "dev", name).Run() == nil
}

func namespaceExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

// removeNamespace kills what runs inside the namespace and deletes it.
func removeNamespace(ipPath, name string) error {
	if !namespaceExists(name) {
		return nil
	}
	for attempt := 0; attempt < 50; attempt++ {
		out, err := output(ipPath, "netns", "pids", name)
		if err != nil {
			break
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := run(ipPath, "netns", "del", name); err != nil && namespaceExists(name) {
		return err
	}
	return nil
}

// CleanupStale removes namespaces, bridges and veths made by this package in
// processes that are no longer running. New calls it; it is exported for a
// TestMain or a cleanup script.
func CleanupStale() error {
	if err := checkRoot(); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	ipPath, err := IPCommand()
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	procMu.Lock()
	defer procMu.Unlock()
	release, err := lock()
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer release()
	return cleanupStale(ipPath)
}

func pidAlive(s string) bool {
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return true // not ours to judge
	}
	if pid == os.Getpid() {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func cleanupStale(ipPath string) error {
	var errs []error
	out, err := output(ipPath, "netns", "list")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if m := nsRe.FindStringSubmatch(f[0]); m != nil && !pidAlive(m[1]) {
			errs = append(errs, removeNamespace(ipPath, f[0]))
		}
	}
	links, err := linkNames(ipPath)
	if err != nil {
		return err
	}
	// veths first (removing one end removes the pair), then bridges.
	for _, name := range links {
		if m := vethRe.FindStringSubmatch(name); m != nil && !pidAlive(m[1]) {
			errs = append(errs, removeLink(ipPath, name))
		}
	}
	for _, name := range links {
		if m := bridgeRe.FindStringSubmatch(name); m != nil && !pidAlive(m[1]) {
			errs = append(errs, removeLink(ipPath, name))
		}
	}
	return errors.Join(errs...)
}

func linkNames(ipPath string) ([]string, error) {
	out, err := output(ipPath, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var links []struct {
		IfName string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("parse ip -j link show: %w", err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.IfName)
	}
	return names, nil
}

// usedPrefixes lists the IPv4 prefixes of the root namespace's addresses and
// routes (all tables).
func usedPrefixes(ipPath string) ([]netip.Prefix, error) {
	var used []netip.Prefix
	out, err := output(ipPath, "-j", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	var ifs []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &ifs); err != nil {
		return nil, fmt.Errorf("parse ip -j addr show: %w", err)
	}
	for _, i := range ifs {
		for _, a := range i.AddrInfo {
			if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a.Local, a.PrefixLen)); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	out, err = output(ipPath, "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return nil, fmt.Errorf("parse ip -j route show: %w", err)
	}
	for _, r := range routes {
		if r.Dst == "" || r.Dst == "default" {
			continue
		}
		dst := r.Dst
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if p, err := netip.ParsePrefix(dst); err == nil {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

func pickSubnet(ipPath string) (netip.Prefix, error) {
	used, err := usedPrefixes(ipPath)
	if err != nil {
		return netip.Prefix{}, err
	}
	base := Supernet.Addr().As4()
	start := os.Getpid() % 254
	for k := range 254 {
		a := base
		a[2] = byte(1 + (start+k)%254) // 10.244.1.0 .. 10.244.254.0
		cand := netip.PrefixFrom(netip.AddrFrom4(a), 24)
		free := true
		for _, u := range used {
			if u.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in %s", Supernet)
}
