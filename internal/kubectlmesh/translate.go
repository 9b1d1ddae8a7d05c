package kubectlmesh

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
	"loom.dev/loom/pkg/validation"
)

// defaultRootNamespace is Istio's, used when no MeshOperator names the control plane's.
const defaultRootNamespace = "istio-system"

// translateResult is what the files would change for one proxy.
type translateResult struct {
	Proxy string `json:"proxy"`
	// Invalid are the files' objects the validating webhook would reject.
	Invalid []objectFinding `json:"invalid,omitempty"`
	// Problems are the model's and translator's problems the files introduce.
	Problems []string         `json:"problems,omitempty"`
	Changes  []resourceChange `json:"changes"`
}

// objectFinding is one validation error of an object read from a file.
type objectFinding struct {
	Object  string `json:"object"`
	Source  string `json:"source"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func newTranslateCommand(o *Options) *cobra.Command {
	var files []string
	var proxy, output string
	var mesh meshFlags
	cmd := &cobra.Command{
		Use:   "translate -f <files|dir|-> --proxy <pod|node id>",
		Short: "Show what Istio config files would change in a proxy's config, offline",
		Long: "Reads the cluster's Services, EndpointSlices, Pods and Istio config, builds the proxy's " +
			"listeners, routes, clusters and endpoints as loom discovery would, with the mesh settings the " +
			"control plane of the proxy's revision runs with (its Deployment's flags and mesh config), then again with the " +
			"files' objects laid over the cluster's (same kind, namespace and name replaced), and prints " +
			"the difference as a unified diff of each changed resource. Nothing is applied. Objects the " +
			"validating webhook would reject, and problems the files introduce, make the exit status non-zero.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outputJSON, outputYAML); err != nil {
				return err
			}
			if len(files) == 0 || proxy == "" {
				return fmt.Errorf("translate needs -f and --proxy")
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			manifests, err := readManifests(files, o.IO.In, ns)
			if err != nil {
				return err
			}
			clients, err := o.clients()
			if err != nil {
				return err
			}
			res, err := translateFiles(cmd.Context(), clients.Client, manifests, proxy, ns, &mesh)
			if err != nil {
				return err
			}
			if err := printTranslate(o.IO.Out, res, output); err != nil {
				return err
			}
			if n := len(res.Invalid) + len(res.Problems); n > 0 {
				return fmt.Errorf("the files have %d invalid field(s) and introduce %d problem(s)", len(res.Invalid), len(res.Problems))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "Files or directories of Istio config, or - for stdin")
	cmd.Flags().StringVar(&proxy, "proxy", "", "The proxy: a pod (in -n) or an xDS node id")
	mesh.register(cmd)
	addOutputFlag(cmd, &output, "json, yaml (the changed resources)")
	return cmd
}

// meshRootNamespace is the namespace of the only MeshOperator's control plane, where
// discovery reads mesh-wide defaults; istio-system when there is none (or several).
func meshRootNamespace(ctx context.Context, c client.Reader) string {
	state, err := pickMesh(ctx, c, "")
	if err != nil || state.Mesh.Spec.Namespace == "" {
		return defaultRootNamespace
	}
	return state.Mesh.Spec.Namespace
}

// translateFiles translates the proxy's config from base (the cluster) and from base with
// the manifests laid over it, with the mesh settings meshFlags choose, and compares the two.
func translateFiles(ctx context.Context, base client.Reader, manifests []manifest, proxyArg, namespace string, meshFlags *meshFlags) (*translateResult, error) {
	proxy, mesh, err := proxyAndMesh(ctx, base, proxyArg, namespace, meshFlags)
	if err != nil {
		return nil, err
	}
	objects := make([]*unstructured.Unstructured, 0, len(manifests))
	for _, m := range manifests {
		objects = append(objects, m.Unstructured)
	}
	before, beforeProblems, err := translateFor(ctx, &overlayReader{base: base, scheme: Scheme()}, mesh, proxy)
	if err != nil {
		return nil, err
	}
	after, afterProblems, err := translateFor(ctx, &overlayReader{base: base, scheme: Scheme(), objects: objects}, mesh, proxy)
	if err != nil {
		return nil, err
	}
	changes, err := diffResources(before, after)
	if err != nil {
		return nil, err
	}
	res := &translateResult{Proxy: proxy.ID, Invalid: validateManifests(manifests), Changes: changes}
	for _, p := range afterProblems {
		if !slices.Contains(beforeProblems, p) && !slices.Contains(res.Problems, p) {
			res.Problems = append(res.Problems, p)
		}
	}
	return res, nil
}

// proxyAndMesh finds the proxy and the mesh settings of its revision's control plane; the
// proxy of a pod is found again when that control plane's domain suffix is not the default.
func proxyAndMesh(ctx context.Context, r client.Reader, proxyArg, namespace string, meshFlags *meshFlags) (model.Proxy, model.Input, error) {
	proxy, err := offlineProxy(ctx, r, proxyArg, namespace, model.DefaultDomainSuffix)
	if err != nil {
		return model.Proxy{}, model.Input{}, err
	}
	mesh, err := meshFlags.meshInput(ctx, r, proxy.Revision)
	if err != nil {
		return model.Proxy{}, model.Input{}, err
	}
	if mesh.DomainSuffix != model.DefaultDomainSuffix {
		if proxy, err = offlineProxy(ctx, r, proxyArg, namespace, mesh.DomainSuffix); err != nil {
			return model.Proxy{}, model.Input{}, err
		}
	}
	return proxy, mesh, nil
}

// translateFor builds the model from r and translates it for proxy, with every problem found
// on the way.
func translateFor(ctx context.Context, r client.Reader, mesh model.Input, proxy model.Proxy) (translate.Resources, []string, error) {
	in, readProblems, err := discovery.ReadModelInput(ctx, r, mesh)
	if err != nil {
		return nil, nil, err
	}
	snap := model.Build(in)
	res, translateProblems := translate.ForProxy(snap, proxy)
	var problems []string
	for _, group := range [][]model.Problem{readProblems, snap.Problems(), translateProblems} {
		for _, p := range group {
			problems = append(problems, p.Error())
		}
	}
	slices.Sort(problems)
	return res, problems, nil
}

// validateManifests validates the Istio objects as the validating webhook does.
func validateManifests(manifests []manifest) []objectFinding {
	var out []objectFinding
	for _, m := range manifests {
		gvk := m.GroupVersionKind()
		kind, ok := validation.Lookup(gvk.Group, gvk.Version, gvk.Kind)
		if !ok {
			continue
		}
		spec, err := json.Marshal(m.Object["spec"])
		if err != nil {
			out = append(out, objectFinding{Object: describe(m.Unstructured), Source: m.source, Field: "spec", Message: err.Error()})
			continue
		}
		result := kind.Validate(validation.Object{Namespace: m.GetNamespace(), Name: m.GetName(), Annotations: m.GetAnnotations()}, spec)
		for _, f := range result.Errors {
			out = append(out, objectFinding{Object: describe(m.Unstructured), Source: m.source, Field: f.Field, Message: f.Message})
		}
	}
	return out
}

func printTranslate(out io.Writer, res *translateResult, output string) error {
	if output != outputTable {
		return printData(out, res, output)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintf(out, "no change to the listeners, routes, clusters or endpoints of %s\n", res.Proxy)
	}
	if err := printUnifiedDiff(out, res.Changes); err != nil {
		return err
	}
	for _, f := range res.Invalid {
		fmt.Fprintf(out, "invalid: %s (%s): %s: %s\n", f.Object, f.Source, f.Field, f.Message)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(out, "problem: %s\n", p)
	}
	return nil
}
