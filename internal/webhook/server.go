package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// InjectPath is the URL path of the sidecar injector (Istio's); ValidatePath (validator.go) is
// the validator's.
const InjectPath = "/inject"

// Server is the HTTPS server of the admission webhooks (Istio's port 15017).
type Server struct {
	http     *http.Server
	listener net.Listener
}

// Handlers are the webhooks a server serves; a nil one is not served.
type Handlers struct {
	Injector  *Injector
	Validator *Validator
}

// NewServer listens on address and serves the handlers with the TLS certificates of
// tlsConfig (the mesh CA's serving certificate, so the operator can put the mesh's root in the
// webhook configurations' caBundle).
func NewServer(address string, tlsConfig *tls.Config, h Handlers, log logr.Logger) (*Server, error) {
	mux := http.NewServeMux()
	for path, handler := range map[string]admission.Handler{InjectPath: h.Injector, ValidatePath: h.Validator} {
		if handler == nil || reflect.ValueOf(handler).IsNil() {
			continue
		}
		served, err := admission.StandaloneWebhook(&admission.Webhook{Handler: handler}, admission.StandaloneOptions{Logger: log.WithName(strings.TrimPrefix(path, "/"))})
		if err != nil {
			return nil, err
		}
		mux.Handle(path, served)
	}
	cfg := tlsConfig.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	lis, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("webhook listener: %w", err)
	}
	return &Server{
		http:     &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		listener: tls.NewListener(lis, cfg),
	}, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Serve serves until Shutdown; it returns nil once shut down.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting requests and waits for the ones in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }
