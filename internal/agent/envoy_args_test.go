package agent

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEnvoyArgsPassTheProxyFlags: --proxy-log-level, --proxy-component-log-level,
// --concurrency and --proxy-drain-duration reach Envoy's command line, and
// nothing of them does when they are unset.
func TestEnvoyArgsPassTheProxyFlags(t *testing.T) {
	o := &Options{Envoy: EnvoyOptions{BootstrapPath: "/b.json", DrainDuration: 5 * time.Second}}
	args := envoyArgs(o)
	for _, flag := range []string{"--log-level", "--component-log-level", "--concurrency"} {
		if slices.Contains(args, flag) {
			t.Errorf("unset options give %s: %q", flag, args)
		}
	}
	if i := slices.Index(args, "--drain-time-s"); i < 0 || args[i+1] != "5" {
		t.Errorf("--drain-time-s is not the drain duration: %q", args)
	}
	o.Envoy.LogLevel, o.Envoy.ComponentLogLevel, o.Envoy.Concurrency = "debug", "misc:error,upstream:trace", 3
	o.Envoy.EnvoyDrainDuration = 45 * time.Second
	args = envoyArgs(o)
	for _, want := range [][2]string{
		{"--log-level", "debug"}, {"--component-log-level", "misc:error,upstream:trace"},
		{"--concurrency", "3"}, {"--drain-time-s", "45"},
	} {
		if i := slices.Index(args, want[0]); i < 0 || i+1 >= len(args) || args[i+1] != want[1] {
			t.Errorf("Envoy args %q lack %s %s", args, want[0], want[1])
		}
	}
}

func TestEnvoyProxyFlagsErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		change func(*Options)
		want   string
	}{
		{func(o *Options) { o.Envoy.LogLevel = "verbose" }, `--proxy-log-level "verbose"`},
		{func(o *Options) { o.Envoy.ComponentLogLevel = "misc" }, `--proxy-component-log-level "misc"`},
		{func(o *Options) { o.Envoy.ComponentLogLevel = "misc:loud" }, `--proxy-component-log-level "misc:loud"`},
		{func(o *Options) { o.Envoy.Concurrency = -1 }, "--concurrency -1"},
		{func(o *Options) { o.Envoy.EnvoyDrainDuration = -time.Second }, "--proxy-drain-duration"},
	} {
		o := envoyTestOptions()
		tc.change(&o)
		if err := o.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error naming %s", err, tc.want)
		}
	}
	o := envoyTestOptions()
	o.Envoy.LogLevel, o.Envoy.ComponentLogLevel, o.Envoy.Concurrency = "warning", "misc:error,ext_authz:debug", 2
	if err := o.validate(); err != nil {
		t.Errorf("valid proxy flags refused: %v", err)
	}
}
