package redirect

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// configFromArgs parses istio-iptables flags as `loom iptables` does.
func configFromArgs(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("iptables", pflag.ContinueOnError)
	var f Flags
	f.Bind(fs)
	f.ResolvConf = filepath.Join("testdata", "resolv.conf")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.Config()
}

func TestDryRunGolden(t *testing.T) {
	cases := []struct {
		name string
		ipv6 bool
		args []string
	}{
		{"default", true, nil},
		{"default-ipv4-only", false, nil},
		{"annotations", true, []string{
			"--istio-service-cidr", "10.96.0.0/12,fd00:96::/112",
			"--istio-service-exclude-cidr", "10.96.0.1/32",
			"--istio-local-exclude-ports", "8081,9000",
			"--istio-local-outbound-ports-exclude", "3306",
			"--istio-outbound-ports", "7070",
		}},
		{"inbound-ports-no-outbound", true, []string{"--istio-inbound-ports", "9080,9443", "--istio-service-cidr", ""}},
		{"dns-resolv-conf", true, []string{"--redirect-dns", "--proxy-uid", "1337,1338", "--proxy-gid", "1337"}},
		{"dns-capture-all-ipv4-only", false, []string{"--redirect-dns", "--capture-all-dns", "--envoy-port", "15101", "--inbound-capture-port", "15106"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configFromArgs(t, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, Render(BuildAll(cfg, c.ipv6)))
		})
	}
	t.Run("cleanup", func(t *testing.T) {
		golden(t, "cleanup", RenderCleanup([]Family{IPv4, IPv6}))
	})
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/redirect -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("dry run differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRenderRuleNames(t *testing.T) {
	cfg := DefaultConfig()
	text := Render(BuildAll(cfg, true))
	for _, want := range []string{
		"table ip loom\ndelete table ip loom\n",
		"type nat hook prerouting priority -100; policy accept;",
		"meta l4proto tcp redirect to :15001",
		"meta l4proto tcp redirect to :15006",
		`oifname "lo" ip saddr 127.0.0.6/32 return`,
		`oifname "lo" ip6 saddr ::6/128 return`,
		`oifname "lo" ip daddr != 127.0.0.1/32 tcp dport != 15008 meta skuid 1337 jump ISTIO_IN_REDIRECT`,
		`oifname "lo" meta skuid != 1337 return`,
		"meta skgid 1337 return",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("default dry run lacks %q:\n%s", want, text)
		}
	}
}
