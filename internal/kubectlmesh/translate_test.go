package kubectlmesh

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"loom.dev/loom/internal/golden"
)

// TestTranslateGolden: a VirtualService that splits reviews' traffic 90/10 between two subsets
// changes exactly productpage's outbound route to reviews.
func TestTranslateGolden(t *testing.T) {
	cluster := fakeCluster(t, withControlPlane(t, bookinfo(), defaultControlPlane), "testdata/translate/cluster-istio.yaml")
	out, err := runOver(t, cluster, "", "translate", "-f", "testdata/translate/reviews-canary.yaml", "--proxy", "productpage-1")
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, out)
	}
	golden.Assert(t, filepath.Join("testdata", "translate-reviews-canary.diff"), []byte(out))
	if !strings.Contains(out, "+          weight: 10") {
		t.Errorf("the diff does not add the 10%% weight:\n%s", out)
	}
}

func TestTranslateJSONFromStdin(t *testing.T) {
	cluster := fakeCluster(t, withControlPlane(t, bookinfo(), defaultControlPlane), "testdata/translate/cluster-istio.yaml")
	stdin := `{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"reviews"},` +
		`"spec":{"hosts":["reviews"],"http":[{"route":[{"destination":{"host":"reviews","subset":"v2"}}]}]}}`
	out, err := runOver(t, cluster, stdin, "translate", "-f", "-", "--proxy", "sidecar~10.1.0.10~productpage-1.demo~demo.svc.cluster.local", "-o", "json")
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, out)
	}
	var res translateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(res.Changes) != 1 || res.Changes[0].Type != "routes" || res.Changes[0].Change != "modified" {
		t.Fatalf("changes %+v, want one modified route", res.Changes)
	}
	if !strings.Contains(string(res.Changes[0].After), "outbound|9080|v2|reviews.demo.svc.cluster.local") {
		t.Errorf("the route after does not go to subset v2: %s", res.Changes[0].After)
	}
}

func TestTranslateNoChange(t *testing.T) {
	cluster := fakeCluster(t, withControlPlane(t, bookinfo(), defaultControlPlane), "testdata/translate/cluster-istio.yaml")
	out, err := runOver(t, cluster, "", "translate", "-f", "testdata/translate/cluster-istio.yaml", "--proxy", "productpage-1")
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, out)
	}
	if want := "no change to the listeners, routes, clusters or endpoints of sidecar~10.1.0.10~productpage-1.demo~demo.svc.cluster.local\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

// TestTranslateInvalid: an object the webhook would reject is named with its field, a
// reference the translator leaves out is a problem, and the exit status says so.
func TestTranslateInvalid(t *testing.T) {
	cluster := fakeCluster(t, withControlPlane(t, bookinfo(), defaultControlPlane), "testdata/translate/cluster-istio.yaml")
	out, err := runOver(t, cluster, "", "translate", "-f", "testdata/translate/invalid.yaml", "--proxy", "productpage-1")
	if err == nil {
		t.Fatalf("translate of an invalid file succeeded:\n%s", out)
	}
	for _, want := range []string{
		"invalid: VirtualService demo/reviews (testdata/translate/invalid.yaml#1): spec.http[0].match[0].uri.regex:",
		"problem: VirtualService demo/reviews",
		"v3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTranslateErrors(t *testing.T) {
	cluster := fakeCluster(t, withControlPlane(t, bookinfo(), defaultControlPlane))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"translate", "--proxy", "productpage-1"}, "translate needs -f and --proxy"},
		{[]string{"translate", "-f", "testdata/translate/reviews-canary.yaml", "--proxy", "nope"}, `pod demo/nope`},
		{[]string{"translate", "-f", "testdata/translate/missing.yaml", "--proxy", "productpage-1"}, "missing.yaml"},
		{[]string{"translate", "-f", "testdata/translate/reviews-canary.yaml", "--proxy", "productpage-1", "-o", "xml"}, "unsupported output format"},
	} {
		if _, err := runOver(t, cluster, "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kubectl mesh %s: error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
