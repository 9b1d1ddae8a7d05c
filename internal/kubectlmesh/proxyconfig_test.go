package kubectlmesh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"encoding/json"
	"k8s.io/client-go/kubernetes/fake"
	restclient "k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"loom.dev/loom/internal/golden"
)

// fakeResponse is what the apiserver's service proxy returns.
type fakeResponse struct {
	body []byte
	err  error
}

func (r fakeResponse) DoRaw(_ context.Context) ([]byte, error) { return r.body, r.err }
func (r fakeResponse) Stream(_ context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(r.body)), r.err
}

// controlPlaneProxy answers service-proxy GETs as loom discovery's monitoring port does, for
// the 1-1-0 control plane only, and records what was asked.
func controlPlaneProxy(t *testing.T, syncz []byte, dumps map[string][]byte, asked *[]string) *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependProxyReactor("services", func(action k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		a := action.(k8stesting.ProxyGetAction)
		*asked = append(*asked, fmt.Sprintf("%s %s:%s%s %v", a.GetNamespace(), a.GetName(), a.GetPort(), a.GetPath(), a.GetParams()))
		if a.GetNamespace() != "loom-system" || a.GetName() != "loom-control-plane-1-1-0" || a.GetPort() != "15014" {
			return true, fakeResponse{err: fmt.Errorf("no such service port")}, nil
		}
		switch a.GetPath() {
		case "/debug/syncz":
			return true, fakeResponse{body: syncz}, nil
		case "/debug/config_dump":
			if body, ok := dumps[a.GetParams()["proxy"]]; ok {
				return true, fakeResponse{body: body}, nil
			}
			return true, fakeResponse{body: []byte(`{"error": "no stream for node"}`), err: fmt.Errorf("the server could not find the requested resource")}, nil
		}
		return true, fakeResponse{err: fmt.Errorf("%d", http.StatusNotFound)}, nil
	})
	return cs
}

func echoProxy(t *testing.T, asked *[]string) *fake.Clientset {
	syncz, _ := json.Marshal([]map[string]any{{"stream": 1, "node": echoNode}, {"stream": 2, "node": echoNode}, {"stream": 3, "node": "sidecar~10.89.0.9~other.demo~demo.svc.cluster.local"}})
	return controlPlaneProxy(t, syncz, map[string][]byte{echoNode: configDumpBody(t, echoNode, echoConfig(t))}, asked)
}

func TestProxyConfigGolden(t *testing.T) {
	for _, kind := range kindNames() {
		t.Run(kind, func(t *testing.T) {
			var asked []string
			out, err := run(t, echoProxy(t, &asked), clusterObjects(), "proxy-config", "echo-v1-7d9f", kind)
			if err != nil {
				t.Fatalf("proxy-config echo-v1-7d9f %s: %v (asked %v)", kind, err, asked)
			}
			golden.Assert(t, filepath.Join("testdata", "proxy-config-"+kind+".txt"), []byte(out))
			want := []string{
				"loom-system loom-control-plane-1-1-0:15014/debug/syncz map[]",
				"loom-system loom-control-plane-1-1-0:15014/debug/config_dump map[proxy:" + echoNode + "]",
			}
			if fmt.Sprint(asked) != fmt.Sprint(want) {
				t.Errorf("asked the apiserver's service proxy for\n%v\nwant\n%v", asked, want)
			}
		})
	}
}

func TestProxyConfigJSONHasNoKeyMaterial(t *testing.T) {
	var asked []string
	out, err := run(t, echoProxy(t, &asked), clusterObjects(), "proxy-config", echoNode, "secrets", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var resources []map[string]any
	if err := json.Unmarshal([]byte(out), &resources); err != nil {
		t.Fatalf("-o json is not a JSON list: %v\n%s", err, out)
	}
	if len(resources) != 2 {
		t.Errorf("-o json lists %d secrets, want 2", len(resources))
	}
	for _, banned := range []string{"private_key", "PRIVATE KEY", "TU9DSyBLRVk"} {
		if strings.Contains(out, banned) {
			t.Errorf("proxy-config secrets -o json shows %q:\n%s", banned, out)
		}
	}
	if !strings.Contains(out, "certificate_chain") {
		t.Errorf("proxy-config secrets -o json lost the certificate chain:\n%s", out)
	}
}

func TestProxyConfigClustersJSON(t *testing.T) {
	var asked []string
	out, err := run(t, echoProxy(t, &asked), clusterObjects(), "proxy-config", "echo-v1-7d9f", "clusters", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, filepath.Join("testdata", "proxy-config-clusters.json"), []byte(out))
}

func TestProxyConfigErrors(t *testing.T) {
	objs := clusterObjects()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"proxy-config", "echo-v1-7d9f", "routez"}, `"routez": unknown config type; use one of clusters, endpoints, listeners, routes, secrets`},
		{[]string{"proxy-config", "nope", "clusters"}, `pod demo/nope: pods "nope" not found`},
		{[]string{"proxy-config", "sidecar~10.89.0.7~gone.demo~demo.svc.cluster.local", "clusters"}, "GET /debug/config_dump from Service loom-system/loom-control-plane-1-1-0 port 15014"},
		{[]string{"proxy-config", "echo-v1-7d9f", "clusters", "-o", "wide"}, `-o "wide": unsupported output format`},
	} {
		var asked []string
		_, err := run(t, echoProxy(t, &asked), objs, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kubectl mesh %s: error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	// A pod whose proxy is not connected.
	syncz := []byte(`[{"stream": 1, "node": "sidecar~10.89.0.9~other.demo~demo.svc.cluster.local"}]`)
	var asked []string
	_, err := run(t, controlPlaneProxy(t, syncz, nil, &asked), objs, "proxy-config", "echo-v1-7d9f", "clusters")
	if want := `pod demo/echo-v1-7d9f has no xDS stream to the control plane (no node id with "echo-v1-7d9f.demo" in /debug/syncz)`; err == nil || err.Error() != want {
		t.Errorf("unconnected pod: error %v, want %q", err, want)
	}
}
