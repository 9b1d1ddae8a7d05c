package benchkit

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestSplitListDropsBlanks(t *testing.T) {
	if got := SplitList(" a, ,b,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("SplitList = %q, want [a b]", got)
	}
	if got := SplitList(""); got != nil {
		t.Errorf("SplitList(\"\") = %q, want none", got)
	}
}

func TestIstiodEnvDropsKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "/elsewhere")
	env := IstiodEnv("istio-system")
	for _, kv := range env {
		if strings.HasPrefix(kv, "KUBECONFIG=") {
			t.Errorf("IstiodEnv keeps %s", kv)
		}
	}
	if !slices.Contains(env, "POD_NAMESPACE=istio-system") || !slices.Contains(env, "PATH="+os.Getenv("PATH")) {
		t.Errorf("IstiodEnv lacks POD_NAMESPACE or this process's PATH: %q", env)
	}
}
