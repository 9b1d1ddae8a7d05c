package cli

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"loom.dev/loom/pkg/redirect"
)

// captureRedirect replaces the redirect run and returns what it was given.
func captureRedirect(t *testing.T) *struct {
	cfg  redirect.Config
	opts redirect.Options
} {
	t.Helper()
	got := &struct {
		cfg  redirect.Config
		opts redirect.Options
	}{}
	old := runRedirect
	runRedirect = func(cfg redirect.Config, opts redirect.Options) error {
		got.cfg, got.opts = cfg, opts
		return nil
	}
	t.Cleanup(func() { runRedirect = old })
	return got
}

func TestIptablesFlagsUseIstiosNames(t *testing.T) {
	got := captureRedirect(t)
	execute(t, "iptables",
		"--envoy-port", "15101", "--inbound-capture-port", "15106",
		"--proxy-uid", "1337", "--proxy-gid", "1338",
		"--istio-inbound-interception-mode", "REDIRECT",
		"--istio-service-cidr", "10.96.0.0/12",
		"--istio-service-exclude-cidr", "10.96.0.1/32",
		"--istio-inbound-ports", "*",
		"--istio-local-exclude-ports", "8081",
		"--istio-local-outbound-ports-exclude", "3306",
		"--istio-outbound-ports", "7070",
		"--dry-run")
	c := got.cfg
	if c.ProxyPort != 15101 || c.InboundCapturePort != 15106 {
		t.Errorf("ports %d/%d", c.ProxyPort, c.InboundCapturePort)
	}
	if !slices.Equal(c.ProxyUIDs, []uint32{1337}) || !slices.Equal(c.ProxyGIDs, []uint32{1338}) {
		t.Errorf("uids %v gids %v", c.ProxyUIDs, c.ProxyGIDs)
	}
	if c.OutboundIncludeCIDRs.All || !slices.Equal(c.OutboundIncludeCIDRs.Prefixes, []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}) {
		t.Errorf("include CIDRs %+v", c.OutboundIncludeCIDRs)
	}
	if !slices.Equal(c.OutboundExcludeCIDRs, []netip.Prefix{netip.MustParsePrefix("10.96.0.1/32")}) {
		t.Errorf("exclude CIDRs %v", c.OutboundExcludeCIDRs)
	}
	if !c.InboundIncludePorts.All || !slices.Equal(c.InboundExcludePorts, []uint16{8081}) {
		t.Errorf("inbound %+v exclude %v", c.InboundIncludePorts, c.InboundExcludePorts)
	}
	if !slices.Equal(c.OutboundExcludePorts, []uint16{3306}) || !slices.Equal(c.OutboundIncludePorts, []uint16{7070}) {
		t.Errorf("outbound ports exclude %v include %v", c.OutboundExcludePorts, c.OutboundIncludePorts)
	}
	if !got.opts.DryRun || got.opts.Cleanup {
		t.Errorf("options %+v, want dry run", got.opts)
	}
}

func TestIptablesCleanupFlag(t *testing.T) {
	got := captureRedirect(t)
	execute(t, "iptables", "--cleanup")
	if !got.opts.Cleanup {
		t.Error("--cleanup did not ask for a cleanup")
	}
}

func TestIptablesBadValuesNameTheFlag(t *testing.T) {
	captureRedirect(t)
	for flag, value := range map[string]string{
		"--istio-service-cidr":                 "10.0.0.0/40",
		"--istio-service-exclude-cidr":         "nope",
		"--istio-local-exclude-ports":          "99999",
		"--istio-local-outbound-ports-exclude": "http",
		"--envoy-port":                         "0",
		"--istio-inbound-interception-mode":    "TPROXY",
	} {
		cmd := NewRootCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"iptables", flag, value})
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("loom iptables %s %s: error %v, want one naming %s", flag, value, err, flag)
		}
	}
}

// The real dry run (no stand-in) prints the nft script and needs no
// privileges.
func TestIptablesDryRunPrintsNftScript(t *testing.T) {
	out := execute(t, "iptables", "--dry-run", "--istio-service-exclude-cidr", "169.254.169.254/32")
	for _, want := range []string{
		"table ip loom {",
		"chain ISTIO_OUTPUT {",
		"ip daddr 169.254.169.254/32 return",
		"meta l4proto tcp redirect to :15001",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
}
