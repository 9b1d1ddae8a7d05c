package discovery

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// newWebhookBundleCheck says whether the apiserver trusts every root of a bundle when it
// calls the mesh's webhooks (those served from the mesh namespace): their serving
// certificate comes from the mesh CA, so a root rotation must not switch signers before the
// caBundle (the operator writes it) holds the new root, or injection and validation would
// fail.
func newWebhookBundleCheck(client kubernetes.Interface, namespace string) func(context.Context, []byte) (bool, string) {
	return func(ctx context.Context, bundle []byte) (bool, string) {
		mutating, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Sprintf("cannot read the webhook configurations: %v", err)
		}
		validating, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Sprintf("cannot read the webhook configurations: %v", err)
		}
		var hooks []servedWebhook
		for _, c := range mutating.Items {
			for _, w := range c.Webhooks {
				hooks = append(hooks, servedWebhook{"MutatingWebhookConfiguration " + c.Name, w.Name, w.ClientConfig})
			}
		}
		for _, c := range validating.Items {
			for _, w := range c.Webhooks {
				hooks = append(hooks, servedWebhook{"ValidatingWebhookConfiguration " + c.Name, w.Name, w.ClientConfig})
			}
		}
		return webhooksTrust(hooks, namespace, bundle)
	}
}

type servedWebhook struct {
	config, name string
	client       admissionregistrationv1.WebhookClientConfig
}

// webhooksTrust: every webhook served by a Service of namespace has every certificate of
// bundle in its caBundle.
func webhooksTrust(hooks []servedWebhook, namespace string, bundle []byte) (bool, string) {
	want := pemCerts(bundle)
	for _, h := range hooks {
		if h.client.Service == nil || h.client.Service.Namespace != namespace {
			continue
		}
		have := pemCerts(h.client.CABundle)
		for _, c := range want {
			if !slices.ContainsFunc(have, c.Equal) {
				return false, fmt.Sprintf("the caBundle of webhook %s in %s does not hold the new root yet", h.name, h.config)
			}
		}
	}
	return true, ""
}

func pemCerts(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
	return out
}
