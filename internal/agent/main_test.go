package agent

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the test binary as a stand-in Envoy when the supervision
// tests start it as one, and stops the local control plane that the xDS
// tests start on first use.
func TestMain(m *testing.M) {
	if os.Getenv(fakeEnvoyEnv) != "" {
		os.Exit(runFakeEnvoy(os.Args[1:]))
	}
	code := m.Run()
	if err := stopControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the local control plane:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
