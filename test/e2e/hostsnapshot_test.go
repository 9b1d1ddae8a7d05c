package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// hostSnapshot is what a real node may change on the host, read before and after it runs.
type hostSnapshot map[string]string

// volatileSysctls change on their own while anything runs.
var volatileSysctls = map[string]bool{
	"kernel/ns_last_pid": true, "kernel/random": true, "kernel/pty": true, "kernel/tainted": true,
	"net/netfilter/nf_conntrack_count": true, "vm/stat_refresh": true, "kernel/sched_domain": true,
}

func takeHostSnapshot(t *testing.T) hostSnapshot {
	t.Helper()
	s := hostSnapshot{}
	command := func(key string, name string, args ...string) {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		s[key] = withoutOtherTests(string(out))
	}
	command("firewall (nft list ruleset)", "nft", "list", "ruleset")
	command("legacy iptables", "iptables-legacy-save")
	command("interfaces", "sh", "-c", "ip -o link show | awk '{print $2}' | sort")
	command("addresses", "sh", "-c", "ip -o addr show | awk '{print $2, $4}' | sort")
	command("routes", "ip", "route", "show", "table", "all")
	command("mounts", "sh", "-c", "awk '{print $5}' /proc/self/mountinfo | sort")
	command("network namespaces", "sh", "-c", "ls /var/run/netns 2>/dev/null | sort")
	// Live processes only: a killed runtime shim, reparented to init, stays a zombie until
	// init reaps it, on init's schedule (this sandbox's took up to a minute).
	command("node processes", "sh", "-c", "ps -eo stat=,comm= | awk '$1 !~ /^Z/ {print $2}' | grep -xE '(kubelet|kube-proxy|containerd|containerd-shim.*|runc|coredns|pause)' | sort || true")
	for _, dir := range []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/containerd", "/etc/cni"} {
		_, err := os.Stat(dir)
		s["exists "+dir] = fmt.Sprint(err == nil)
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/loom-node")
	s["node cgroups"] = strings.Join(cgroups, " ")
	for _, root := range []string{"net/ipv4", "net/ipv6/conf/all", "net/ipv6/conf/default", "net/ipv4/conf/all", "net/ipv4/conf/default", "net/bridge", "net/netfilter", "net/core", "vm", "kernel", "kernel/keys"} {
		entries, err := os.ReadDir(filepath.Join("/proc/sys", root))
		if err != nil {
			continue
		}
		for _, e := range entries {
			key := root + "/" + e.Name()
			if e.IsDir() || volatileSysctls[key] {
				continue
			}
			if value, err := os.ReadFile(filepath.Join("/proc/sys", key)); err == nil {
				s["sysctl "+key] = strings.TrimSpace(string(value))
			}
		}
	}
	return s
}

// otherTestsNetwork matches what test/netns creates for the xDS tests that may run at the
// same time in another package: their namespaces, bridges, veths, routes and mounts.
var otherTestsNetwork = regexp.MustCompile(`loomt-|\blt[bvp]\d|10\.244\.`)

func withoutOtherTests(text string) string {
	var keep []string
	for _, line := range strings.Split(text, "\n") {
		if !otherTestsNetwork.MatchString(line) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// diff lists what differs between two snapshots.
func (s hostSnapshot) diff(after hostSnapshot) []string {
	keys := map[string]bool{}
	for k := range s {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if s[k] != after[k] {
			out = append(out, fmt.Sprintf("%s:\n  before: %q\n  after:  %q", k, s[k], after[k]))
		}
	}
	sort.Strings(out)
	return out
}
