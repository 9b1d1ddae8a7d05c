package discovery

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"loom.dev/loom/internal/meshca"
	"loom.dev/loom/internal/webhook"
)

// newWebhookServer serves this revision's sidecar injector and config validator with the mesh
// CA's serving certificate; the injector reads namespaces from the informer cache.
func newWebhookServer(opts Options, authority *meshca.Authority, p *pipeline, reg prometheus.Registerer) (*webhook.Server, error) {
	if authority == nil {
		return nil, errors.New("the webhooks need the mesh CA (their serving certificate, and the injected workloads' certificates): --ca-mode None serves none")
	}
	var h webhook.Handlers
	if opts.Injection != nil {
		h.Injector = webhook.NewInjector(*opts.Injection, webhook.CachedNamespaces(p.cache, p.clientset), reg)
	}
	if opts.Validation {
		h.Validator = webhook.NewValidator(reg)
	}
	s, err := webhook.NewServer(opts.WebhookAddress, authority.TLSConfig(), h, opts.Logger.WithName("webhook"))
	if err != nil {
		return nil, err
	}
	if opts.WebhookListening != nil {
		opts.WebhookListening(s.Addr())
	}
	return s, nil
}
