package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// proxylessClientPod sends 1000 RPCs through the mesh, its xDS bootstrap pointing at the
// control plane's Service.
func proxylessClientPod(discoveryAddress string) *corev1.Pod {
	bootstrap := fmt.Sprintf(`{"xds_servers":[{"server_uri":%q,"channel_creds":[{"type":"insecure"}],"server_features":["xds_v3"]}],`+
		`"node":{"id":"sidecar~127.0.0.1~client.grpc-demo~grpc-demo.svc.cluster.local","metadata":{"GENERATOR":"grpc","NAMESPACE":"grpc-demo"}}}`, discoveryAddress)
	pod := echoPod("client", corev1.RestartPolicyNever,
		"client", "--target", "xds:///echo.grpc-demo.svc.cluster.local:8080", "--n", "1000", "--wait-for-ready", "--timeout", "30s")
	pod.Namespace = "grpc-demo"
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GRPC_XDS_BOOTSTRAP_CONFIG", Value: bootstrap}}
	return pod
}

// checkSplit reads the client's JSON summary and checks the 80/20 split.
func checkSplit(t *testing.T, log string) {
	t.Helper()
	var summary struct {
		Total, OK int
		Backends  map[string]int
	}
	start := strings.Index(log, "{")
	if start < 0 || json.Unmarshal([]byte(log[start:]), &summary) != nil {
		t.Fatalf("client printed no summary:\n%s", log)
	}
	if summary.Total != 1000 || summary.OK != 1000 {
		t.Fatalf("client: %d of %d RPCs ok:\n%s", summary.OK, summary.Total, log)
	}
	v1 := 100 * float64(summary.Backends["echo-v1"]) / 1000
	v2 := 100 * float64(summary.Backends["echo-v2"]) / 1000
	if math.Abs(v1-80) > 5 || math.Abs(v2-20) > 5 {
		t.Fatalf("split %.1f%%/%.1f%%, want 80/20 within 5 points:\n%s", v1, v2, log)
	}
	t.Logf("proxyless client through the control-plane pod: echo-v1 %.1f%%, echo-v2 %.1f%%", v1, v2)
}
