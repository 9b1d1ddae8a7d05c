package cli

import (
	"bytes"
	"strings"
	"testing"
)

func execute(t *testing.T, args ...string) string {
	t.Helper()
	cmd := NewRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("loom %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestVersion(t *testing.T) {
	if out := execute(t, "version"); !strings.HasPrefix(out, "loom dev (commit unknown, go") {
		t.Errorf("version printed %q", out)
	}
}

func TestOperatorFlagsFollowControllerRuntimeConventions(t *testing.T) {
	help := execute(t, "operator", "--help")
	for _, flag := range []string{"--metrics-bind-address", "--health-probe-bind-address", "--leader-elect", "--kubeconfig", "--zap-log-level"} {
		if !strings.Contains(help, flag) {
			t.Errorf("operator --help lacks %s", flag)
		}
	}
}

func TestUnknownCommandFails(t *testing.T) {
	cmd := NewRootCommand()
	cmd.SetArgs([]string{"no-such-command"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil {
		t.Error("unknown command succeeded")
	}
}
