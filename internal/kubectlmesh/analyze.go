package kubectlmesh

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type analyzeOptions struct {
	files         []string
	allNamespaces bool
	useKube       bool
	rootNamespace string
	output        string
}

func newAnalyzeCommand(o *Options) *cobra.Command {
	opts := analyzeOptions{}
	cmd := &cobra.Command{
		Use:   "analyze [-f files] [-A|-n namespace]",
		Short: "Find mistakes in Istio config, in the cluster or in files",
		Long: "Checks Istio config for references to hosts, subsets, gateways and Secrets that do not exist, " +
			"VirtualServices that define the same host for the same gateway, and policies whose selector " +
			"selects no workload. Files (-f) are laid over the cluster's objects; with --use-kube=false they " +
			"are analyzed alone. Codes IST* are istioctl analyze's for the same check. The exit status is " +
			"non-zero when an Error is found (not for warnings), for CI.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(opts.output, outputJSON, outputYAML); err != nil {
				return err
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			manifests, err := readManifests(opts.files, o.IO.In, ns)
			if err != nil {
				return err
			}
			var base client.Reader = emptyCluster{}
			if opts.useKube {
				clients, err := o.clients()
				if err != nil {
					return err
				}
				base = clients.Client
				if opts.rootNamespace == "" {
					opts.rootNamespace = meshRootNamespace(cmd.Context(), clients.Client)
				}
			}
			if opts.rootNamespace == "" {
				opts.rootNamespace = defaultRootNamespace
			}
			if opts.allNamespaces {
				ns = ""
			}
			msgs, err := analyze(cmd.Context(), base, manifests, ns, opts.rootNamespace)
			if err != nil {
				return err
			}
			if err := printMessages(o.IO.Out, msgs, ns, opts.output); err != nil {
				return err
			}
			if n := countLevel(msgs, levelError); n > 0 {
				return fmt.Errorf("analyze found %d error(s)", n)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&opts.files, "filename", "f", nil, "Files or directories of config to analyze, or - for stdin")
	cmd.Flags().BoolVarP(&opts.allNamespaces, "all-namespaces", "A", false, "Analyze every namespace")
	cmd.Flags().BoolVar(&opts.useKube, "use-kube", true, "Read the cluster; false analyzes the files alone")
	cmd.Flags().StringVar(&opts.rootNamespace, "root-namespace", "", "Namespace of mesh-wide policies (default: the MeshOperator's control-plane namespace, else istio-system)")
	addOutputFlag(cmd, &opts.output, "json, yaml")
	return cmd
}

// analyze runs every check over base with the manifests laid over it, and returns the
// messages about objects in namespace ("" for all), ordered by object, field and code.
func analyze(ctx context.Context, base client.Reader, manifests []manifest, namespace, rootNamespace string) ([]message, error) {
	objects := make([]*unstructured.Unstructured, 0, len(manifests))
	for _, m := range manifests {
		objects = append(objects, m.Unstructured)
	}
	in, msgs, err := readAnalysisInput(ctx, &overlayReader{base: base, scheme: Scheme(), objects: objects})
	if err != nil {
		return nil, err
	}
	in.rootNamespace = rootNamespace
	for _, f := range validateManifests(manifests) {
		msgs = append(msgs, message{Code: msgSchemaValidationError.code, Name: msgSchemaValidationError.name, Level: levelError,
			Object: f.Object, Field: f.Field, Message: f.Message})
	}
	for _, c := range checks {
		msgs = append(msgs, c(in)...)
	}
	out := []message{}
	for _, m := range msgs {
		if namespace == "" || objectNamespace(m.Object) == namespace {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b message) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Code, b.Code))
	})
	return slices.Compact(out), nil
}

// objectNamespace is the namespace of "Kind namespace/name".
func objectNamespace(object string) string {
	_, key, _ := strings.Cut(object, " ")
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return ""
	}
	return ns
}

func countLevel(msgs []message, level string) int {
	n := 0
	for _, m := range msgs {
		if m.Level == level {
			n++
		}
	}
	return n
}

func printMessages(out io.Writer, msgs []message, namespace, output string) error {
	if output != outputTable {
		return printData(out, msgs, output)
	}
	if len(msgs) == 0 {
		scope := "namespace " + namespace
		if namespace == "" {
			scope = "all namespaces"
		}
		_, err := fmt.Fprintf(out, "No validation issues found when analyzing %s.\n", scope)
		return err
	}
	w := newTabWriter(out)
	fmt.Fprintln(w, "CODE\tLEVEL\tOBJECT\tFIELD\tMESSAGE")
	for _, m := range msgs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.Code, m.Level, m.Object, m.Field, m.Message)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "%d error(s), %d warning(s), %d info\n", countLevel(msgs, levelError), countLevel(msgs, levelWarning), countLevel(msgs, levelInfo))
	return err
}

// emptyCluster is the cluster analyze --use-kube=false reads: no objects at all.
type emptyCluster struct{}

func (emptyCluster) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: fmt.Sprintf("%T", obj)}, key.Name)
}

func (emptyCluster) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	return meta.SetList(list, nil)
}
