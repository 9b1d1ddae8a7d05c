package redirect_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"loom.dev/loom/test/netns"
)

// inNetns runs fn on an OS thread moved into the named network namespace.
// The thread is never unlocked, so it dies with the goroutine instead of
// going back to the Go scheduler in the wrong namespace. Sockets made and
// processes started by fn belong to that namespace.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer func() { _ = f.Close() }()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// nsFd opens a namespace for nftables.WithNetNSFd; closed at cleanup.
func nsFd(t *testing.T, h *netns.Host) int {
	t.Helper()
	f, err := os.Open("/run/netns/" + h.Name)
	if err != nil {
		t.Fatalf("open netns %s: %v", h.Name, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return int(f.Fd())
}

// serve listens in h's namespace and answers every TCP connection with
// "<name> <original destination>\n" and every UDP datagram with
// "<name>\n". The original destination is SO_ORIGINAL_DST when it differs
// from the connection's local address (the connection was redirected),
// "-" otherwise.
func serve(t *testing.T, h *netns.Host, name, network, addr string) {
	t.Helper()
	serveAs(t, h, 0, name, network, addr)
}

// serveAs is serve with the listening socket owned by uid (as the agent's
// sockets are owned by the proxy uid, which the DNS conntrack-zone rules
// match on).
func serveAs(t *testing.T, h *netns.Host, uid int, name, network, addr string) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	err := inNetns(h.Name, func() (err error) {
		// The socket's owner is the creating thread's fsuid; this thread
		// is discarded afterwards.
		if err := unix.Setfsuid(uid); err != nil {
			return fmt.Errorf("setfsuid %d: %w", uid, err)
		}
		if strings.HasPrefix(network, "udp") {
			pc, err = net.ListenPacket(network, addr)
		} else {
			ln, err = net.Listen(network, addr)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen %s %s in %s: %v", network, addr, h.Name, err)
	}
	if pc != nil {
		t.Cleanup(func() { _ = pc.Close() })
		go func() {
			buf := make([]byte, 512)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo([]byte(name+"\n"), from)
			}
		}()
		return
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			orig := "-"
			local := c.LocalAddr().(*net.TCPAddr).AddrPort()
			if a, err := originalDst(c.(*net.TCPConn)); err == nil && a != local {
				orig = a.String()
			}
			fmt.Fprintf(c, "%s %s\n", name, orig)
			_ = c.Close()
		}
	}()
}

// ip6tSOOriginalDst is IP6T_SO_ORIGINAL_DST from linux/netfilter_ipv6/
// ip6_tables.h (same value as SO_ORIGINAL_DST, at level SOL_IPV6).
const ip6tSOOriginalDst = 80

// originalDst is getsockopt SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST
// (IPv6): the destination the client dialled before a redirect.
func originalDst(c *net.TCPConn) (netip.AddrPort, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var ap netip.AddrPort
	var serr error
	v6 := c.LocalAddr().(*net.TCPAddr).IP.To4() == nil
	err = raw.Control(func(fd uintptr) {
		if v6 {
			info, err := unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, ip6tSOOriginalDst)
			if err != nil {
				serr = err
				return
			}
			// Port holds the network-order bytes as they lie in memory.
			port := binary.NativeEndian.AppendUint16(nil, info.Addr.Port)
			ap = netip.AddrPortFrom(netip.AddrFrom16(info.Addr.Addr), binary.BigEndian.Uint16(port))
			return
		}
		mreq, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
		if err != nil {
			serr = err
			return
		}
		b := mreq.Multiaddr
		ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), binary.BigEndian.Uint16(b[2:4]))
	})
	if err != nil {
		return ap, err
	}
	return ap, serr
}

// client is who dials: a uid and gid inside a namespace, optionally bound
// to a source address.
type client struct {
	host     *netns.Host
	uid, gid uint32
	bind     string
}

// dial runs a client process in the namespace as c.uid/c.gid (the process
// is started from a thread inside the namespace with
// SysProcAttr.Credential) and returns the server's answer line.
func (c client) dial(network, addr string) (string, error) {
	var out, stderr strings.Builder
	err := inNetns(c.host.Name, func() error {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=dial", dialAddrEnv+"="+network+","+addr, dialBindEnv+"="+c.bind)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		cmd.Dir = "/"
		// Run (not Start) on this thread: Pdeathsig fires when the
		// starting thread exits.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: c.uid, Gid: c.gid, NoSetGroups: true},
			Pdeathsig:  syscall.SIGKILL,
		}
		return cmd.Run()
	})
	if err != nil {
		return "", fmt.Errorf("client uid %d gid %d in %s dialling %s %s: %v: %s", c.uid, c.gid, c.host.Name, network, addr, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// iptables runs the `loom iptables` logic inside h's namespace
// (ip netns exec, as the init container runs in the pod's namespace).
func iptables(h *netns.Host, args ...string) (stdout string, err error) {
	js, _ := json.Marshal(args)
	cmd := h.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=iptables", childArgsEnv+"="+string(js))
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("loom iptables %s in %s: %v: %s", strings.Join(args, " "), h.Name, err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}
