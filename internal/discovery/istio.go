package discovery

import (
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/pkg/model"
)

func meta(o metav1.Object) model.Meta {
	return model.Meta{Name: o.GetName(), Namespace: o.GetNamespace(), Created: o.GetCreationTimestamp().Time, Generation: o.GetGeneration()}
}

func convertVirtualService(o *networkingv1.VirtualService) *model.VirtualService {
	return &model.VirtualService{Meta: meta(o), Spec: &o.Spec}
}

func convertDestinationRule(o *networkingv1.DestinationRule) *model.DestinationRule {
	return &model.DestinationRule{Meta: meta(o), Spec: &o.Spec}
}

func convertGateway(o *networkingv1.Gateway) *model.Gateway {
	return &model.Gateway{Meta: meta(o), Spec: &o.Spec}
}

func convertSidecar(o *networkingv1.Sidecar) *model.Sidecar {
	return &model.Sidecar{Meta: meta(o), Spec: &o.Spec}
}

func convertServiceEntry(o *networkingv1.ServiceEntry) *model.ServiceEntry {
	return &model.ServiceEntry{Meta: meta(o), Spec: &o.Spec}
}

func convertWorkloadEntry(o *networkingv1.WorkloadEntry) *model.WorkloadEntry {
	return &model.WorkloadEntry{Meta: meta(o), Spec: &o.Spec}
}

// convertCredential reads TLS material the way Istio's gateways do: keys
// tls.crt/tls.key/ca.crt (kubernetes.io/tls) or cert/key/cacert (generic).
func convertCredential(s *corev1.Secret) *model.Credential {
	pick := func(keys ...string) []byte {
		for _, k := range keys {
			if v, ok := s.Data[k]; ok {
				return v
			}
		}
		return nil
	}
	c := &model.Credential{
		Name:      s.Name,
		Namespace: s.Namespace,
		Cert:      pick(corev1.TLSCertKey, "cert"),
		Key:       pick(corev1.TLSPrivateKeyKey, "key"),
		CACert:    pick("ca.crt", "cacert"),
	}
	if c.Cert == nil && c.CACert == nil {
		return nil
	}
	return c
}
