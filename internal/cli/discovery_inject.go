package cli

import (
	"fmt"
	"net"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/inject"
)

// injectFlags are `loom discovery`'s sidecar injector settings.
type injectFlags struct {
	address         string
	inject          bool
	validate        bool
	discoveryHost   string
	agentImage      string
	proxyImage      string
	pullPolicy      string
	defaultRevision bool
	holdApplication bool
}

func (f *injectFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.address, "webhook-address", "", "Address of the admission webhooks over HTTPS (Istio's :15017); empty: no webhooks")
	fs.BoolVar(&f.inject, "inject", true, "With --webhook-address: serve the sidecar injector at /inject (needs the --inject-* settings)")
	fs.BoolVar(&f.validate, "validate", true, "With --webhook-address: serve the validating webhook of Istio config at /validate")
	fs.StringVar(&f.discoveryHost, "inject-discovery-host", "", "Host injected proxies reach this control plane at (its Service's DNS name): CA and xDS on 15012, plaintext xDS on 15010")
	fs.StringVar(&f.agentImage, "inject-agent-image", "", "Image of `loom agent` and `loom iptables` in injected pods (Loom's own image)")
	fs.StringVar(&f.proxyImage, "inject-proxy-image", "", "Image of the sidecar template's istio-proxy container: `loom agent` and Envoy")
	fs.StringVar(&f.pullPolicy, "inject-image-pull-policy", string(corev1.PullIfNotPresent), "Pull policy of the injected images")
	fs.BoolVar(&f.defaultRevision, "inject-default-revision", true, "This revision also injects namespaces labelled istio-injection=enabled and pods labelled sidecar.istio.io/inject=true")
	fs.BoolVar(&f.holdApplication, "inject-hold-application-until-proxy-starts", false, "Start application containers only once the proxy is ready (proxy.istio.io/config overrides per pod)")
}

// apply sets the injector's settings; the CA settings are applied first.
func (f *injectFlags) apply(opts *discovery.Options, ca *caFlags) error {
	if f.address == "" {
		return nil
	}
	if opts.CA == nil {
		return fmt.Errorf("--webhook-address needs the mesh CA: the webhooks are served with its certificate (--ca-mode is None)")
	}
	opts.WebhookAddress = f.address
	opts.Validation = f.validate
	if !f.inject {
		return nil
	}
	required := []struct{ value, flag string }{{f.discoveryHost, "--inject-discovery-host"}, {f.agentImage, "--inject-agent-image"}, {f.proxyImage, "--inject-proxy-image"}}
	for _, r := range required {
		if r.value == "" {
			return fmt.Errorf("--webhook-address needs %s", r.flag)
		}
	}
	policy := corev1.PullPolicy(f.pullPolicy)
	switch policy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("--inject-image-pull-policy %q: must be Always, IfNotPresent or Never", f.pullPolicy)
	}
	revision := opts.Revision
	if revision == "" {
		revision = "default"
	}
	opts.Injection = &inject.Settings{
		Revision:                        revision,
		DefaultRevision:                 f.defaultRevision,
		MeshNamespace:                   opts.RootNamespace,
		TrustDomain:                     opts.CA.TrustDomain,
		ClusterID:                       ca.clusterID,
		CAAddress:                       net.JoinHostPort(f.discoveryHost, "15012"),
		XDSAddress:                      net.JoinHostPort(f.discoveryHost, "15010"),
		AgentImage:                      f.agentImage,
		ProxyImage:                      f.proxyImage,
		ImagePullPolicy:                 policy,
		HoldApplicationUntilProxyStarts: f.holdApplication,
		ProxyResources:                  defaultProxyResources(),
	}
	return opts.Injection.Validate()
}

// defaultProxyResources are Istio's defaults for the injected proxy: 100m CPU and 128Mi
// requested, 2 CPUs and 1Gi at most.
func defaultProxyResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
}
