package xds

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// tracedDiscovery is a second `loom discovery` beside the shared one, exporting traces.
type tracedDiscovery struct {
	xdsAddr, monitoringAddr, logPath string
}

// startTracedDiscovery runs `loom discovery` with --tracing-otlp-endpoint until the test
// ends. It writes no status (the shared instance does) and runs no CA or webhooks.
func startTracedDiscovery(t *testing.T, otlpEndpoint string) *tracedDiscovery {
	t.Helper()
	xdsPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	monPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	d := &tracedDiscovery{xdsAddr: "127.0.0.1:" + strconv.Itoa(xdsPort), monitoringAddr: "127.0.0.1:" + strconv.Itoa(monPort),
		logPath: filepath.Join(t.TempDir(), "discovery-traced.log")}
	logFile, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(loomBin, "discovery", "--kubeconfig", cluster.KubeconfigPath,
		"--xds-address", d.xdsAddr, "--monitoring-address", d.monitoringAddr, "--root-namespace", "istio-system",
		"--ca-mode", "None", "--write-status=false",
		"--tracing-otlp-endpoint", otlpEndpoint, "--tracing-sample-ratio", "1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + d.monitoringAddr + "/ready")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		out, _ := os.ReadFile(d.logPath)
		t.Fatalf("traced discovery never became ready:\n%s", out)
	}
	return d
}

func readAll(resp *http.Response) string {
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
