package netns

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHelperProcess is not a test: the tests re-execute the test binary
// inside a namespace with NETNS_HELPER set, and this function then acts as a
// tiny TCP server or client.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("NETNS_HELPER")
	if mode == "" {
		return // run normally: nothing to do
	}
	addr := os.Getenv("NETNS_ADDR")
	switch mode {
	case "listen":
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("READY", lis.Addr())
		for {
			c, err := lis.Accept()
			if err != nil {
				os.Exit(1)
			}
			fmt.Fprintf(c, "hello from %s\n", os.Getenv("NETNS_NAME"))
			_ = c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Print(line)
		os.Exit(0)
	}
	os.Exit(2)
}

func helper(h *Host, mode, addr string) *exec.Cmd {
	cmd := h.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "NETNS_HELPER="+mode, "NETNS_ADDR="+addr, "NETNS_NAME="+h.Name)
	return cmd
}

func dialRead(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s from the root namespace: %v", addr, err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return strings.TrimSpace(line)
}

func TestHostsReachEachOther(t *testing.T) {
	nw := CreateNetwork(t, 2)
	hosts := nw.Hosts
	if len(hosts) != 2 {
		t.Fatalf("got %d hosts", len(hosts))
	}
	a, b := hosts[0], hosts[1]
	if a.IP == b.IP || a.Name == b.Name {
		t.Fatalf("hosts not distinct: %+v %+v", a, b)
	}
	for _, h := range hosts {
		ip := net.ParseIP(h.IP)
		if ip == nil || ip.IsLoopback() || !strings.HasPrefix(h.IP, "10.244.") {
			t.Fatalf("bad host IP %q", h.IP)
		}
		if !strings.Contains(h.Name, fmt.Sprint(os.Getpid())) {
			t.Fatalf("namespace name %q lacks the pid", h.Name)
		}
	}

	// A TCP server inside namespace a, listening on a's own address (which
	// exists only inside that namespace).
	srv := helper(a, "listen", a.Addr(7777))
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if line != "READY "+a.Addr(7777) {
			t.Fatalf("server in %s: %q", a.Name, line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server in namespace did not start")
	}

	want := "hello from " + a.Name
	if got := dialRead(t, a.Addr(7777)); got != want {
		t.Fatalf("root namespace read %q, want %q", got, want)
	}

	out, err := helper(b, "dial", a.Addr(7777)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("dial from %s: %v: %q", b.Name, err, out)
	}

	// Namespace b reaches a server of the root namespace on the gateway.
	lis, err := net.Listen("tcp", net.JoinHostPort(nw.Gateway, "0"))
	if err != nil {
		t.Fatalf("listen on gateway: %v", err)
	}
	defer func() { _ = lis.Close() }()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "hello from root")
			_ = c.Close()
		}
	}()
	out, err = helper(b, "dial", lis.Addr().String()).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello from root" {
		t.Fatalf("dial the gateway from %s: %v: %q", b.Name, err, out)
	}

	// The namespace has its own loopback, not the root one.
	out, err = helper(b, "dial", lis.Addr().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("second dial: %v: %q", err, out)
	}
	rootLo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rootLo.Close() }()
	out, err = helper(b, "dial", rootLo.Addr().String()).CombinedOutput()
	if err == nil {
		t.Fatalf("namespace %s reached the root namespace's loopback listener: %q", b.Name, out)
	}
}

func listNames(t *testing.T) (namespaces, links string) {
	t.Helper()
	ipPath, err := IPCommand()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := exec.Command(ipPath, "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	ls, err := linkNames(ipPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(ns), strings.Join(ls, " ")
}

func TestCloseRemovesEverything(t *testing.T) {
	nw, err := New(2)
	if err != nil {
		t.Fatal(err)
	}
	// A process left running inside a namespace must not keep it alive.
	sleeper := nw.Hosts[0].Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		_ = nw.Close()
		t.Fatal(err)
	}
	ns, links := listNames(t)
	for _, h := range nw.Hosts {
		if !strings.Contains(ns, h.Name) || !strings.Contains(links, h.Veth) {
			t.Errorf("%s/%s not created: %q %q", h.Name, h.Veth, ns, links)
		}
	}
	if !strings.Contains(links, nw.Bridge) {
		t.Errorf("bridge %s not created", nw.Bridge)
	}
	if err := nw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := nw.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- sleeper.Wait() }()
	select {
	case err := <-waitErr:
		t.Logf("the process in the namespace ended: %v", err) // killed, as wanted
	case <-time.After(5 * time.Second):
		t.Error("process inside the namespace survived Close")
		_ = sleeper.Process.Kill()
	}
	ns, links = listNames(t)
	for _, h := range nw.Hosts {
		if strings.Contains(ns, h.Name) || strings.Contains(links, h.Veth) {
			t.Errorf("%s/%s left behind: %q %q", h.Name, h.Veth, ns, links)
		}
	}
	if strings.Contains(links, nw.Bridge) {
		t.Errorf("bridge %s left behind", nw.Bridge)
	}
}

func TestStaleRemoved(t *testing.T) {
	ipPath, err := IPCommand()
	if err != nil {
		t.Fatal(err)
	}
	// A pid that no longer runs: a child that has exited and been reaped.
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	dead := c.Process.Pid
	ns := fmt.Sprintf("loomt-%d-1", dead)
	br := fmt.Sprintf("ltb%dg1", dead)
	veth := fmt.Sprintf("ltv%dn1", dead)
	lone := fmt.Sprintf("ltv%dn2", dead) // a veth whose namespace is already gone
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"link", "add", br, "type", "bridge"},
		{"link", "add", veth, "type", "veth", "peer", "name", fmt.Sprintf("ltp%dn1", dead), "netns", ns},
		{"link", "set", veth, "master", br},
		{"link", "add", lone, "type", "veth", "peer", "name", fmt.Sprintf("ltp%dn2", dead)},
	} {
		if err := run(ipPath, args...); err != nil {
			_ = CleanupStale()
			t.Fatal(err)
		}
	}
	nsl, links := listNames(t)
	if !strings.Contains(nsl, ns) || !strings.Contains(links, br) || !strings.Contains(links, veth) {
		t.Fatalf("stale fixtures not created: %q %q", nsl, links)
	}
	if err := CleanupStale(); err != nil {
		t.Fatalf("CleanupStale: %v", err)
	}
	nsl, links = listNames(t)
	for _, name := range []string{ns, br, veth, lone} {
		if strings.Contains(nsl, name) || strings.Contains(links, name) {
			t.Errorf("stale %s still there: %q %q", name, nsl, links)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(0); err == nil {
		t.Error("New(0) succeeded")
	}
	if _, err := New(MaxHosts + 1); err == nil {
		t.Error("New(MaxHosts+1) succeeded")
	}
}
