package devcluster

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPickNodeNetworkSkipsSubnetsInUse(t *testing.T) {
	n, err := pickNodeNetwork([]netip.Prefix{netip.MustParsePrefix("10.89.0.0/23"), netip.MustParsePrefix("192.0.2.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if n.Subnet.String() != "10.89.2.0/24" || n.Gateway.String() != "10.89.2.1" || n.Bridge != nodeBridge {
		t.Errorf("got %+v, want 10.89.2.0/24 via 10.89.2.1 on %s", n, nodeBridge)
	}
	if _, err := pickNodeNetwork([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("a host route over all of 10/8 left no subnet, yet one was picked")
	}
}

func TestParseProcNetRoute(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
ltb1	0000590A	00000000	0001	0	0	0	0000FFFF	0	0	0
`
	got, err := parseProcNetRoute(table)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.0/24", "10.89.0.0/16"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v (the default route is left out)", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("route %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := parseProcNetRoute("header\neth0 zz 0 0 0 0 0 00FFFFFF\n"); err == nil {
		t.Error("a malformed destination was accepted")
	}
}

func TestUndoScriptRunsNewestFirstAndNamesFailures(t *testing.T) {
	dir := t.TempDir()
	trail := filepath.Join(dir, "trail")
	h := newHostChanges(filepath.Join(dir, "undo.sh"))
	for _, step := range []struct{ what, shell string }{
		{"first change", "echo first >> " + shellQuote(trail)},
		{"second change", "echo second >> " + shellQuote(trail) + "; false"},
		{"third change", "echo third >> " + shellQuote(trail)},
	} {
		if err := h.record(step.what, step.shell); err != nil {
			t.Fatal(err)
		}
	}
	err := h.revert()
	if err == nil || !strings.Contains(err.Error(), "second change") || strings.Contains(err.Error(), "first change") {
		t.Errorf("revert error %v: want one naming only the failed step", err)
	}
	got, _ := os.ReadFile(trail)
	if string(got) != "third\nsecond\nfirst\n" {
		t.Errorf("undo order %q: want newest first, and a failed step not to stop the rest", got)
	}
}

func TestEnsureDirRemovesOnlyWhatItCreated(t *testing.T) {
	dir := t.TempDir()
	existing, created := filepath.Join(dir, "existing"), filepath.Join(dir, "created", "deep")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHostChanges(filepath.Join(dir, "undo.sh"))
	for _, d := range []string{existing, created} {
		if err := h.ensureDir(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.revert(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("a folder that existed before was removed: %v", err)
	}
	if _, err := os.Stat(created); !os.IsNotExist(err) {
		t.Errorf("a folder the node created is still there: %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("got %s", got)
	}
}
