package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoCommand runs the README's demo in a session of its own, as a terminal would.
func demoCommand(t *testing.T, stateDir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), "bash", append([]string{repoRoot + "/hack/demo.sh"}, args...)...)
	requireRealNode(t)
	images := filepath.Dir(imageTarballs(t)[0])
	cmd.Env = append(os.Environ(), "LOOM_BIN="+loomBin, "KUBECTL_MESH="+kubectlMeshBin, "LOOM_DEMO_IMAGES="+images, "LOOM_K8S_ASSETS="+assets, "LOOM_DEV_DIR="+stateDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// TestDemoRunsTwiceInARow runs the demo non-interactively, twice, and checks that it shows
// the reconciled mesh and leaves no process behind.
func TestDemoRunsTwiceInARow(t *testing.T) {
	stateDir := t.TempDir()
	for run := 1; run <= 2; run++ {
		cmd := demoCommand(t, stateDir, "--once")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo run %d: %v\n%s", run, err, out)
		}
		if !meshRowReconciled(string(out)) {
			t.Fatalf("demo run %d did not show the reconciled mesh:\n%s", run, out)
		}
		if !splitShown(string(out)) {
			t.Fatalf("demo run %d did not show an 80/20 split through loom discovery:\n%s", run, out)
		}
		if !strings.Contains(string(out), "1000 RPCs: server spiffe://cluster.local/ns/grpc-demo/sa/echo, client spiffe://cluster.local/ns/grpc-demo/sa/demo-client") {
			t.Fatalf("demo run %d did not show all 1000 RPCs over mTLS with both peers' SPIFFE ids:\n%s", run, out)
		}
		if !strings.Contains(string(out), "sidecar.istio.io/status: {") || !strings.Contains(string(out), "init containers: istio-agent-init (agent) istio-proxy (agent)") {
			t.Fatalf("demo run %d did not show the injected echo pod:\n%s", run, out)
		}
		if !meshStatusShown(string(out)) {
			t.Fatalf("demo run %d did not end with kubectl mesh status:\n%s", run, out)
		}
		if !strings.Contains(string(out), `The VirtualService "bad-regex" is invalid: spec.http[0].match[0].uri.regex: invalid RE2 regular expression`) {
			t.Fatalf("demo run %d did not show the refused VirtualService:\n%s", run, out)
		}
		assertSessionEmpty(t, cmd.Process.Pid)
	}
}

// TestDemoStops checks both ways the README gives to stop a running demo, and that either
// leaves the host as the demo found it.
func TestDemoStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, demo *exec.Cmd, stateDir string)
	}{
		{"ctrl-c", func(t *testing.T, demo *exec.Cmd, _ string) {
			// A terminal sends SIGINT to the whole foreground process group.
			if err := syscall.Kill(-demo.Process.Pid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}},
		{"cluster-down", func(t *testing.T, _ *exec.Cmd, stateDir string) {
			if out, err := loom(t, stateDir, "dev", "cluster", "down"); err != nil {
				t.Fatalf("down: %v\n%s", err, out)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := t.TempDir()
			demo := demoCommand(t, stateDir)
			before := takeHostSnapshot(t)
			pr, pw := io.Pipe()
			demo.Stdout, demo.Stderr = pw, pw
			if err := demo.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- demo.Wait(); _ = pw.Close() }()

			var output strings.Builder
			running := false
			for scanner := bufio.NewScanner(pr); scanner.Scan(); {
				output.WriteString(scanner.Text() + "\n")
				if strings.HasPrefix(scanner.Text(), "The demo is running.") {
					running = true
					break
				}
			}
			if !running {
				t.Fatalf("demo ended before it was running:\n%s", output.String())
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }() // keep the demo from blocking on output

			tc.stop(t, demo, stateDir)
			select {
			case err := <-exited:
				t.Logf("demo exited: %v", err) // 130 after Ctrl-C, as a shell reports it
			case <-time.After(time.Minute):
				_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
				t.Fatal("demo still running a minute after it was stopped")
			}
			assertSessionEmpty(t, demo.Process.Pid)
			if diff := before.diff(takeHostSnapshot(t)); len(diff) > 0 {
				t.Errorf("the stopped demo left the host changed:\n%s", strings.Join(diff, "\n"))
			}
		})
	}
}

// meshRowReconciled checks that the demo waited for the demo mesh to be Ready, printed its
// `kubectl get mesh` row and every component it installed.
func meshRowReconciled(out string) bool {
	if !strings.Contains(out, "meshoperator.operator.loom.dev/loom-demo condition met") {
		return false
	}
	for _, c := range []string{"control-plane", "gateway-ingress", "addon-prometheus", "addon-grafana", "addon-jaeger"} {
		if !strings.Contains(out, c+": ready 1/1, version 1.1.0") {
			return false
		}
	}
	for _, line := range strings.Split(out, "\n") {
		// NAME VERSION PROFILE READY DEGRADED REVISION PROXIES ("<current>/<connected> current", or
		// empty before the control plane reports) AGE
		if f := strings.Fields(line); (len(f) == 7 || len(f) == 9) && f[0] == "loom-demo" && f[1] == "1.1.0" && f[2] == "demo" && f[3] == "True" && f[4] == "False" && f[5] == "default" {
			return true
		}
	}
	return false
}

// splitShown checks the demo's gRPC client saw the VirtualService's 80/20 split (±5 points)
// over 1000 RPCs, all answered.
func splitShown(out string) bool {
	if !strings.Contains(out, "observed split over 1000 RPCs (1000 ok):") {
		return false
	}
	shares := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		var name string
		var n int
		var pct float64
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%s %d (%f%%)", &name, &n, &pct); err == nil {
			shares[strings.TrimSuffix(name, ":")] = pct
		}
	}
	return math.Abs(shares["echo-v1"]-80) <= 5 && math.Abs(shares["echo-v2"]-20) <= 5
}

// meshStatusShown checks the demo printed `kubectl mesh status` for its mesh, with the mesh Ready
// and its CA signing.
func meshStatusShown(out string) bool {
	var mesh, ready, ca bool
	for _, line := range strings.Split(out, "\n") {
		switch f := strings.Fields(line); {
		case len(f) == 2 && f[0] == "Mesh:" && f[1] == "loom-demo":
			mesh = true
		case len(f) >= 2 && f[0] == "Ready" && f[1] == "True":
			ready = true
		case len(f) >= 2 && f[0] == "CAReady" && f[1] == "True":
			ca = true
		}
	}
	return mesh && ready && ca
}
