package kubectlmesh

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/golden"
)

func bookinfoWithSecret() []client.Object {
	return append(bookinfo(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "present-cert", Namespace: "demo"}})
}

func TestAnalyzeGolden(t *testing.T) {
	cluster := fakeCluster(t, bookinfoWithSecret())
	for _, tc := range []struct {
		golden string
		errors int
		args   []string
	}{
		{"analyze-broken.txt", 9, []string{"analyze", "-f", "testdata/analyze/broken.yaml"}},
		// clean.yaml, read after broken.yaml from the directory, replaces its reviews objects for
		// the checks (the subset and host errors go); every file object is still validated.
		{"analyze-dir.json", 7, []string{"analyze", "-f", "testdata/analyze", "-o", "json"}},
	} {
		out, err := runOver(t, cluster, "", tc.args...)
		if want := fmt.Sprintf("analyze found %d error(s)", tc.errors); err == nil || err.Error() != want {
			t.Errorf("kubectl mesh %s: error %v, want %q", strings.Join(tc.args, " "), err, want)
		}
		golden.Assert(t, filepath.Join("testdata", tc.golden), []byte(out))
	}
}

func TestAnalyzeClean(t *testing.T) {
	cluster := fakeCluster(t, bookinfo(), "testdata/analyze/clean.yaml")
	out, err := runOver(t, cluster, "", "analyze")
	if err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	if want := "No validation issues found when analyzing namespace demo.\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

// TestAnalyzeWarningsPass: warnings are printed but do not fail CI.
func TestAnalyzeWarningsPass(t *testing.T) {
	cluster := fakeCluster(t, bookinfo())
	stdin := "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: nobody}\nspec: {selector: {matchLabels: {app: nobody}}}\n"
	out, err := runOver(t, cluster, stdin, "analyze", "-f", "-", "-o", "yaml")
	if err != nil {
		t.Fatalf("analyze with a warning only: %v\n%s", err, out)
	}
	if !strings.Contains(out, "code: IST0127") || !strings.Contains(out, "level: Warning") {
		t.Errorf("output lacks the IST0127 warning:\n%s", out)
	}
}

// TestAnalyzeOffline: --use-kube=false reads nothing from the cluster, so productpage is
// unknown too; -A keeps objects of every namespace.
func TestAnalyzeOffline(t *testing.T) {
	out, err := runOver(t, fakeCluster(t, bookinfoWithSecret()), "", "analyze", "--use-kube=false", "-A", "-f", "testdata/analyze/broken.yaml", "-o", "json")
	if err == nil {
		t.Fatalf("offline analyze of broken.yaml passed:\n%s", out)
	}
	var msgs []message
	if err := json.Unmarshal([]byte(out), &msgs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var productpage bool
	for _, m := range msgs {
		productpage = productpage || (m.Code == "IST0101" && strings.Contains(m.Message, `"productpage"`))
	}
	if !productpage {
		t.Errorf("offline analysis did not find productpage missing: %s", out)
	}
}

func TestAnalyzeNamespaceScope(t *testing.T) {
	cluster := fakeCluster(t, bookinfo(), "testdata/analyze/clean.yaml")
	stdin := "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: nothing, namespace: prod}\nspec: {host: nothing}\n"
	out, err := runOver(t, cluster, stdin, "analyze", "-f", "-")
	if err != nil || !strings.Contains(out, "No validation issues") {
		t.Errorf("analyze of demo reported prod's objects: %v\n%s", err, out)
	}
	if _, err := runOver(t, cluster, stdin, "analyze", "-f", "-", "-A"); err == nil {
		t.Errorf("analyze -A ignored prod's DestinationRule")
	}
}
