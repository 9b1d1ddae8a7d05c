package redirect_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"loom.dev/loom/test/netns"
)

// TestDryRunScriptIsWhatIsProgrammed loads the dry-run script with the
// real nft command in one namespace, programs the same flags over netlink
// in another, and compares nft's listing of both: the dry run prints
// exactly the rules loom iptables installs (and nft accepts the script).
func TestDryRunScriptIsWhatIsProgrammed(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Fatal("this test needs the nft command (apt-get install nftables) to load the dry-run script:", err)
	}
	hosts := netns.Create(t, 2)
	programmed, scripted := hosts[0], hosts[1]
	args := []string{
		"--istio-service-cidr", "10.0.0.0/8,fd00::/8,127.0.0.0/8",
		"--istio-service-exclude-cidr", "10.1.0.0/16,fd00:1::/32",
		"--istio-local-exclude-ports", "8081",
		"--istio-local-outbound-ports-exclude", "9090",
		"--istio-outbound-ports", "7070",
		"--proxy-uid", "1337,1338", "--proxy-gid", "1337",
		"--redirect-dns", "--capture-all-dns",
	}
	if _, err := iptables(programmed, args...); err != nil {
		t.Fatal(err)
	}
	script, err := iptables(scripted, append([]string{"--dry-run"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	load := scripted.Command(nft, "-f", "-")
	load.Stdin = strings.NewReader(script)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("nft -f refused the dry-run script: %v: %s\n%s", err, out, script)
	}
	// Loading it twice must also work (the script replaces, like Apply).
	load = scripted.Command(nft, "-f", "-")
	load.Stdin = strings.NewReader(script)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("nft -f refused the dry-run script the second time: %v: %s", err, out)
	}
	for _, family := range []string{"ip", "ip6"} {
		want := list(t, scripted, nft, family)
		got := list(t, programmed, nft, family)
		if got != want {
			t.Errorf("table %s loom programmed over netlink:\n%s\ndiffers from the dry-run script loaded by nft:\n%s", family, got, want)
		}
		if !strings.Contains(got, "redirect to :15001") {
			t.Errorf("table %s loom lacks the outbound redirect:\n%s", family, got)
		}
	}
}

func list(t *testing.T, h *netns.Host, nft, family string) string {
	t.Helper()
	out, err := h.Command(nft, "list", "table", family, "loom").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table %s loom in %s: %v: %s", family, h.Name, err, out)
	}
	return string(out)
}

// TestGoldenScriptsLoadInNft checks every dry-run golden of pkg/redirect
// with `nft -c -f` (parse and kernel validation, nothing committed) in a
// fresh namespace.
func TestGoldenScriptsLoadInNft(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Fatal("this test needs the nft command (apt-get install nftables):", err)
	}
	goldens, err := filepath.Glob("../../pkg/redirect/testdata/*.golden")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no dry-run goldens found in pkg/redirect/testdata (%v)", err)
	}
	h := netns.Create(t, 1)[0]
	for _, g := range goldens {
		abs, err := filepath.Abs(g)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := h.Command(nft, "-c", "-f", abs).CombinedOutput(); err != nil {
			t.Errorf("nft -c -f %s: %v: %s", g, err, out)
		}
	}
}
