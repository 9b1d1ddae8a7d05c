package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
)

// statusServer is the agent's status port (Istio's 15020): /healthz/ready
// for the sidecar's readiness (Envoy's 15021 routes there) and
// /app-health/<container>/<kind> for the application's rewritten probes.
type statusServer struct {
	// ready reports whether the sidecar is ready, or why not.
	ready   func() error
	probers map[string]*appProber
	// probeHost is where the application's probes go.
	probeHost string
	log       logr.Logger
	server    *http.Server
	listener  net.Listener
}

// startStatusServer serves on lis until stop.
func startStatusServer(lis net.Listener, ready func() error, probers map[string]*appProber, probeHost string, log logr.Logger) *statusServer {
	s := &statusServer{ready: ready, probers: probers, probeHost: probeHost, log: log, listener: lis}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz/ready", s.serveReady)
	mux.HandleFunc("/app-health/", s.serveAppHealth)
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.server.Serve(lis) }()
	return s
}

// listenStatus listens on every interface: the kubelet probes the pod's IP.
func listenStatus(port int) (net.Listener, error) {
	lis, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("--status-port %d: %w", port, err)
	}
	return lis, nil
}

func (s *statusServer) serveReady(w http.ResponseWriter, _ *http.Request) {
	if err := s.ready(); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = fmt.Fprintln(w, "ready")
}

func (s *statusServer) serveAppHealth(w http.ResponseWriter, r *http.Request) {
	p, ok := s.probers[r.URL.Path]
	if !ok {
		http.Error(w, "no application probe "+r.URL.Path+" in $"+AppProbersEnv, http.StatusNotFound)
		return
	}
	if err := p.probe(r.Context(), s.probeHost); err != nil {
		s.log.V(1).Info("application probe failed", "path", r.URL.Path, "error", err.Error())
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = fmt.Fprintln(w, "ok")
}

func (s *statusServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.server.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.log.Error(err, "stopping the status server")
	}
}
