package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"loom.dev/loom/internal/agent"
)

// TestAgentCommandEnvoyFlags: `loom agent --proxy envoy` as the sidecar
// template runs it gets the contract's defaults and the application's
// probes from the environment; without --proxy the Envoy options stay
// unset.
func TestAgentCommandEnvoyFlags(t *testing.T) {
	env := map[string]string{agent.AppProbersEnv: `{"/app-health/web/readyz":{"tcpSocket":{"port":8080}}}`}
	for k, v := range agentEnvironment {
		env[k] = v
	}
	got, err := runAgentCommand(t, env, "--proxy", "envoy", "--revision", "canary", "--drain-duration", "20s")
	if err != nil {
		t.Fatal(err)
	}
	want := agent.EnvoyOptions{
		BootstrapPath: "/var/run/loom/envoy/bootstrap.json", Binary: "/usr/local/bin/envoy",
		XDSProxySocket: "/var/run/loom/proxy/XDS", StatusPort: 15020,
		DrainDuration: 20 * time.Second, ParentShutdownDuration: 60 * time.Second,
		AppProbers: env[agent.AppProbersEnv],
	}
	if d := cmp.Diff(want, got.Envoy); d != "" || got.Proxy != agent.ProxyEnvoy || got.Bootstrap.Revision != "canary" {
		t.Errorf("proxy %q revision %q, Envoy options (-want +got):\n%s", got.Proxy, got.Bootstrap.Revision, d)
	}

	got, err = runAgentCommand(t, env, "--sds-socket", "/s")
	if err != nil {
		t.Fatal(err)
	}
	if got.Proxy != "" || got.Envoy != (agent.EnvoyOptions{}) {
		t.Errorf("without --proxy: proxy %q, Envoy options %+v", got.Proxy, got.Envoy)
	}
}

// TestAgentCommandEnvoyErrorsNameTheFlag: bad input is refused by the
// agent with the flag or variable named (agent.Run validates).
func TestAgentCommandEnvoyErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--proxy", "nginx"}, nil, `--proxy "nginx"`},
		{[]string{"--proxy", "envoy", "--status-port", "99999"}, nil, "--status-port 99999"},
		{[]string{"--proxy", "envoy", "--drain-duration", "-1s"}, nil, "--drain-duration"},
		{[]string{"--proxy", "envoy", "--pod-name", ""}, nil, "--pod-name"},
		{[]string{"--proxy", "envoy"}, map[string]string{agent.AppProbersEnv: "[]"}, agent.AppProbersEnv},
	} {
		env := map[string]string{}
		for k, v := range agentEnvironment {
			env[k] = v
		}
		for k, v := range tc.env {
			env[k] = v
		}
		opts, err := runAgentCommand(t, env, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		err = agent.Run(t.Context(), opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
