package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// AppProbersEnv holds the application's original probes, as Istio's
// injector writes them when it rewrites them to the agent's status port.
const AppProbersEnv = "ISTIO_KUBE_APP_PROBERS"

// appProber is one original probe, in Istio's ISTIO_KUBE_APP_PROBERS form.
type appProber struct {
	HTTPGet        *corev1.HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket      *corev1.TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC           *corev1.GRPCAction      `json:"grpc,omitempty"`
	TimeoutSeconds int32                   `json:"timeoutSeconds,omitempty"`
}

// appHealthPath is the form of the probers' keys.
var appHealthPath = regexp.MustCompile(`^/app-health/[a-z0-9]([-a-z0-9]*[a-z0-9])?/(livez|readyz|startupz)$`)

// parseAppProbers reads $ISTIO_KUBE_APP_PROBERS; "" means no probers.
func parseAppProbers(data string) (map[string]*appProber, error) {
	if strings.TrimSpace(data) == "" {
		return nil, nil
	}
	var probers map[string]*appProber
	if err := json.Unmarshal([]byte(data), &probers); err != nil {
		return nil, fmt.Errorf("$%s: want Istio's JSON object of probes: %w", AppProbersEnv, err)
	}
	for path, p := range probers {
		if !appHealthPath.MatchString(path) {
			return nil, fmt.Errorf("$%s: key %q: want /app-health/<container>/livez|readyz|startupz", AppProbersEnv, path)
		}
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("$%s[%q]: %w", AppProbersEnv, path, err)
		}
	}
	return probers, nil
}

func (p *appProber) check() error {
	if p == nil {
		return fmt.Errorf("no probe")
	}
	n := 0
	for _, set := range []bool{p.HTTPGet != nil, p.TCPSocket != nil, p.GRPC != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("want exactly one of httpGet, tcpSocket, grpc; got %d", n)
	}
	if p.TimeoutSeconds < 0 {
		return fmt.Errorf("timeoutSeconds %d is negative", p.TimeoutSeconds)
	}
	switch {
	case p.HTTPGet != nil:
		if _, err := numericPort(p.HTTPGet.Port); err != nil {
			return fmt.Errorf("httpGet.port: %w", err)
		}
		if s := p.HTTPGet.Scheme; s != "" && s != corev1.URISchemeHTTP && s != corev1.URISchemeHTTPS {
			return fmt.Errorf("httpGet.scheme %q: want HTTP or HTTPS", s)
		}
	case p.TCPSocket != nil:
		if _, err := numericPort(p.TCPSocket.Port); err != nil {
			return fmt.Errorf("tcpSocket.port: %w", err)
		}
	case p.GRPC.Port < 1 || p.GRPC.Port > 65535:
		return fmt.Errorf("grpc.port %d: want 1-65535", p.GRPC.Port)
	}
	return nil
}

// numericPort: the injector resolves named ports before writing the probes.
func numericPort(p intstr.IntOrString) (int, error) {
	n := p.IntValue()
	if p.Type == intstr.String {
		var err error
		if n, err = strconv.Atoi(p.StrVal); err != nil {
			return 0, fmt.Errorf("%q is not a port number", p.StrVal)
		}
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d: want 1-65535", n)
	}
	return n, nil
}

// probe runs the original probe against host (the pod's IP or loopback),
// as the kubelet would: HTTP 200-399, a TCP connection, or gRPC SERVING.
func (p *appProber) probe(ctx context.Context, host string) error {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return probeHTTP(ctx, p.HTTPGet, host)
	case p.TCPSocket != nil:
		port, _ := numericPort(p.TCPSocket.Port)
		if p.TCPSocket.Host != "" {
			host = p.TCPSocket.Host
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	default:
		return probeGRPC(ctx, p.GRPC, host)
	}
}

func probeHTTP(ctx context.Context, g *corev1.HTTPGetAction, host string) error {
	port, _ := numericPort(g.Port)
	if g.Host != "" {
		host = g.Host
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	target, err := url.Parse(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/loom-agent")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		// The kubelet does not verify the certificates of HTTPS probes.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}, //nolint:gosec // as the kubelet
		// The kubelet counts a redirect as success.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe %s: status %d", target, resp.StatusCode)
	}
	return nil
}

func probeGRPC(ctx context.Context, g *corev1.GRPCAction, host string) error {
	conn, err := grpc.NewClient(net.JoinHostPort(host, strconv.Itoa(int(g.Port))), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("gRPC probe port %d: %w", g.Port, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("gRPC probe port %d service %q: %s", g.Port, service, resp.GetStatus())
	}
	return nil
}
