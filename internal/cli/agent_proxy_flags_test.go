package cli

import (
	"bytes"
	"context"
	"testing"
	"time"

	"loom.dev/loom/internal/agent"
)

// TestAgentCommandPassesEnvoyFlags: the flags the injector sets from
// sidecar.istio.io/logLevel, componentLogLevel, agentLogLevel and
// proxy.istio.io/config reach the agent's options, through `loom agent` as
// the injected container runs it (--zap-log-level is the root's).
func TestAgentCommandPassesEnvoyFlags(t *testing.T) {
	for k, v := range agentEnvironment {
		t.Setenv(k, v)
	}
	var got agent.Options
	runAgent = func(_ context.Context, opts agent.Options) error { got = opts; return nil }
	t.Cleanup(func() { runAgent = agent.Run })
	root := NewRootCommand()
	root.SetArgs([]string{"agent", "--proxy", "envoy", "--revision", "default", "--zap-log-level", "debug",
		"--status-port", "15030", "--proxy-log-level", "debug", "--proxy-component-log-level", "misc:error",
		"--concurrency", "2", "--proxy-drain-duration", "45s"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	e := got.Envoy
	if e.StatusPort != 15030 || e.LogLevel != "debug" || e.ComponentLogLevel != "misc:error" || e.Concurrency != 2 || e.EnvoyDrainDuration != 45*time.Second {
		t.Errorf("envoy options %+v", e)
	}
}
