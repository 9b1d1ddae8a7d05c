package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// startTestStatusServer serves the status port on a free loopback port
// with the probes in proberJSON (Istio's ISTIO_KUBE_APP_PROBERS).
func startTestStatusServer(t *testing.T, ready func() error, proberJSON string) string {
	t.Helper()
	probers, err := parseAppProbers(proberJSON)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := startStatusServer(lis, ready, probers, "127.0.0.1", logr.Discard())
	t.Cleanup(s.stop)
	return "http://" + lis.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestStatusReadyFollowsTheSidecar(t *testing.T) {
	var notReady atomic.Pointer[error]
	err := errors.New("Envoy has not ACKed its listeners yet")
	notReady.Store(&err)
	base := startTestStatusServer(t, func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}, "")
	if code, body := get(t, base+"/healthz/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "ACKed") {
		t.Errorf("not ready: %d %q", code, body)
	}
	notReady.Store(nil)
	if code, _ := get(t, base+"/healthz/ready"); code != http.StatusOK {
		t.Errorf("ready: %d", code)
	}
}

// TestStatusRunsTheApplicationProbes: each rewritten probe runs the
// original one against a real server: HTTP (status and headers as the app
// sees them), TCP and gRPC health; a probe not in ISTIO_KUBE_APP_PROBERS
// is 404.
func TestStatusRunsTheApplicationProbes(t *testing.T) {
	var healthy atomic.Bool
	var gotHeader atomic.Value
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHeader.Store(r.Header.Get("X-Probe"))
		switch {
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case r.URL.Path == "/healthz" && healthy.Load():
			_, _ = io.WriteString(w, "ok")
		default:
			http.Error(w, "unhealthy", http.StatusInternalServerError)
		}
	}))
	defer web.Close()
	webPort := web.Listener.Addr().(*net.TCPAddr).Port

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpPort := tcp.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcServer := grpc.NewServer()
	healthServer := health.NewServer()
	healthpb.RegisterHealthServer(grpcServer, healthServer)
	go func() { _ = grpcServer.Serve(grpcLis) }()
	defer grpcServer.Stop()
	grpcPort := grpcLis.Addr().(*net.TCPAddr).Port
	healthServer.SetServingStatus("echo.Echo", healthpb.HealthCheckResponse_NOT_SERVING)

	// A port nothing listens on.
	closed := freePort(t)

	probers := fmt.Sprintf(`{
  "/app-health/web/readyz": {"httpGet": {"path": "/healthz", "port": %d, "scheme": "HTTP", "httpHeaders": [{"name": "X-Probe", "value": "istio"}]}, "timeoutSeconds": 1},
  "/app-health/web/startupz": {"httpGet": {"path": "moved", "port": %d}},
  "/app-health/web/livez": {"tcpSocket": {"port": %d}, "timeoutSeconds": 1},
  "/app-health/db/livez": {"tcpSocket": {"port": %d}, "timeoutSeconds": 1},
  "/app-health/rpc/readyz": {"grpc": {"port": %d, "service": "echo.Echo"}, "timeoutSeconds": 2},
  "/app-health/rpc/livez": {"grpc": {"port": %d}}
}`, webPort, webPort, tcpPort, closed, grpcPort, grpcPort)
	base := startTestStatusServer(t, func() error { return nil }, probers)

	check := func(path string, want int) {
		t.Helper()
		if code, body := get(t, base+path); code != want {
			t.Errorf("%s: %d %q, want %d", path, code, body, want)
		}
	}
	check("/app-health/web/readyz", http.StatusServiceUnavailable)
	healthy.Store(true)
	check("/app-health/web/readyz", http.StatusOK)
	if h, _ := gotHeader.Load().(string); h != "istio" {
		t.Errorf("the application saw header X-Probe %q, want the probe's", h)
	}
	check("/app-health/web/startupz", http.StatusOK) // a redirect counts as success, as with the kubelet
	check("/app-health/web/livez", http.StatusOK)
	check("/app-health/db/livez", http.StatusServiceUnavailable)
	check("/app-health/rpc/readyz", http.StatusServiceUnavailable)
	healthServer.SetServingStatus("echo.Echo", healthpb.HealthCheckResponse_SERVING)
	check("/app-health/rpc/readyz", http.StatusOK)
	check("/app-health/rpc/livez", http.StatusOK) // the server's overall health
	check("/app-health/other/readyz", http.StatusNotFound)
	_ = tcp.Close()
	check("/app-health/web/livez", http.StatusServiceUnavailable)
}
