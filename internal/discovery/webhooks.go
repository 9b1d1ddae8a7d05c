package discovery

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"loom.dev/loom/internal/meshca"
	"loom.dev/loom/internal/webhook"
)

// newWebhookServer serves this revision's sidecar injector with the mesh CA's serving
// certificate; namespaces come from the informer cache.
func newWebhookServer(opts Options, authority *meshca.Authority, p *pipeline, reg prometheus.Registerer) (*webhook.Server, error) {
	if authority == nil {
		return nil, errors.New("the sidecar injector needs the mesh CA (its serving certificate and the workloads' certificates): --ca-mode None cannot inject")
	}
	injector := webhook.NewInjector(*opts.Injection, webhook.CachedNamespaces(p.cache, p.clientset), reg)
	s, err := webhook.NewServer(opts.WebhookAddress, authority.TLSConfig(), injector, opts.Logger.WithName("webhook"))
	if err != nil {
		return nil, err
	}
	if opts.WebhookListening != nil {
		opts.WebhookListening(s.Addr())
	}
	return s, nil
}
