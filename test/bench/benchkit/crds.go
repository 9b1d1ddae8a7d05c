package benchkit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/istiocrds"
)

// InstallIstioCRDs installs Loom's Istio CRDs (pkg/istiocrds), then every other
// CRD istio.io/api ships (EnvoyFilter, ProxyConfig, Telemetry, WasmPlugin, ...),
// which istiod watches and Loom ignores, and waits until all are established.
// c's scheme must know apiextensions/v1.
//
// When istio.io/api's CRDs cannot be read, otherCRDsMissing decides: it returns
// the error to fail with, or nil to go on with Loom's CRDs only.
func InstallIstioCRDs(ctx context.Context, c client.Client, otherCRDsMissing func(error) error) error {
	objs, err := istiocrds.Objects()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	var names []string
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("CRD %s: %w", o.GetName(), err)
		}
		have[o.GetName()] = true
		names = append(names, o.GetName())
	}
	extra, err := IstioAPICRDs()
	if err != nil {
		if err := otherCRDsMissing(err); err != nil {
			return err
		}
	}
	for _, crd := range extra {
		if have[crd.Name] {
			continue
		}
		if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	for _, n := range names {
		if err := WaitEstablished(ctx, c, n, time.Minute); err != nil {
			return fmt.Errorf("CRD %s not established: %w", n, err)
		}
	}
	return nil
}

// IstioAPICRDs reads kubernetes/customresourcedefinitions.gen.yaml from the
// istio.io/api module the product pins (in the module cache).
func IstioAPICRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	if err != nil {
		return nil, fmt.Errorf("locating istio.io/api: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "kubernetes", "customresourcedefinitions.gen.yaml"))
	if err != nil {
		return nil, err
	}
	return parseCRDs(data)
}

// parseCRDs keeps the CustomResourceDefinitions of a multi-document YAML.
func parseCRDs(data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(doc, &crd); err != nil {
			return nil, err
		}
		if crd.Kind == "CustomResourceDefinition" {
			crds = append(crds, &crd)
		}
	}
}

// WaitEstablished waits up to timeout until the CRD name is Established.
func WaitEstablished(ctx context.Context, c client.Client, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}
