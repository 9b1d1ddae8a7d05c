package meshca

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/ca"
)

// rootConfigMapName is the ConfigMap Istio publishes the trust bundle in, in every
// namespace, for agents to verify the CA's serving certificate.
const rootConfigMapName = "istio-ca-root-cert"

// stateData is the v1alpha1.CAStateConfigMap's data: the trust bundle and the signing
// certificate's chain up to the root (both nil before the first good load) and the last
// load's problem ("" when it succeeded).
func stateData(mode string, roots, chain []byte, problem string) map[string]string {
	data := map[string]string{v1alpha1.CAStateKeyMode: mode, v1alpha1.CAStateKeyProblem: problem}
	if len(roots) > 0 || len(chain) > 0 {
		data[v1alpha1.CAStateKeyRoots] = string(roots)
		data[v1alpha1.CAStateKeyChain] = string(chain)
	}
	return data
}

// signerState is a signer's trust bundle and chain for stateData (nil, nil for nil).
func signerState(signer *ca.Signer) (roots, chain []byte) {
	if signer == nil {
		return nil, nil
	}
	return joinPEM(signer.Roots()), joinPEM(signer.Chain())
}

func joinPEM(blocks [][]byte) []byte {
	var out []byte
	for _, b := range blocks {
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(append([]byte{}, b...), '\n')
		}
		out = append(out, b...)
	}
	return out
}

// writeConfigMap creates or updates a ConfigMap to hold exactly data.
func writeConfigMap(ctx context.Context, client kubernetes.Interface, namespace, name string, labels, data map[string]string) error {
	cms := client.CoreV1().ConfigMaps(namespace)
	cur, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels}, Data: data}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return writeConfigMap(ctx, client, namespace, name, labels, data)
		}
		return err
	}
	if err != nil {
		return err
	}
	if maps.Equal(cur.Data, data) {
		return nil
	}
	cur = cur.DeepCopy()
	cur.Data = data
	_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}
