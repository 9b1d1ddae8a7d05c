package redirect_test

import (
	"os"
	"strings"
	"testing"

	"loom.dev/loom/pkg/redirect"
	"loom.dev/loom/test/netns"
)

// TestIPv6DisabledNamespaceGetsOnlyIPv4: with net.ipv6.conf.all.disable_ipv6
// set in the pod's namespace, only the ip table is programmed, and an ip6
// table left by an earlier run (when IPv6 was on) is removed.
func TestIPv6DisabledNamespaceGetsOnlyIPv4(t *testing.T) {
	h := netns.Create(t, 1)[0]
	fd := nsFd(t, h)
	if out, err := iptables(h); err != nil || !strings.Contains(out, "programmed table ip6 loom") {
		t.Fatalf("with IPv6 on: %q, %v", out, err)
	}
	err := inNetns(h.Name, func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0o644)
	})
	if err != nil {
		t.Fatalf("disabling IPv6 in %s: %v", h.Name, err)
	}
	out, err := iptables(h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "IPv6 is disabled") || strings.Contains(out, "ip6 loom") {
		t.Errorf("with IPv6 off the run printed %q", out)
	}
	for f, want := range map[redirect.Family]bool{redirect.IPv4: true, redirect.IPv6: false} {
		got, err := redirect.TableExists(redirect.Namespace{NetNSFd: fd}, f)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("table %s loom exists = %v, want %v", f, got, want)
		}
	}
}
