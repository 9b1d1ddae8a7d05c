package kubectlmesh

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/version"
	"loom.dev/loom/pkg/values"
)

// versionLabel is the control-plane Deployment's version label (the chart's cp.labels).
const versionLabel = "app.kubernetes.io/version"

// discoveryContainer is the control plane's container in its Deployment.
const discoveryContainer = "discovery"

type clientVersion struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
}

// controlPlaneVersion is what one revision's control-plane Deployment runs.
type controlPlaneVersion struct {
	Mesh          string `json:"mesh"`
	Revision      string `json:"revision"`
	Deployment    string `json:"deployment"` // namespace/name
	Version       string `json:"version,omitempty"`
	Image         string `json:"image,omitempty"`
	Replicas      int32  `json:"replicas"`
	ReadyReplicas int32  `json:"readyReplicas"`
	Problem       string `json:"problem,omitempty"` // e.g. the Deployment is missing
}

type versionReport struct {
	Client        clientVersion         `json:"clientVersion"`
	ControlPlanes []controlPlaneVersion `json:"controlPlanes,omitempty"`
}

func newVersionCommand(o *Options) *cobra.Command {
	var output string
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the client's version and each control-plane revision's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outputJSON, outputYAML); err != nil {
				return err
			}
			report := versionReport{Client: clientVersion{Version: version.Version, Commit: version.Commit, GoVersion: runtime.Version()}}
			if !clientOnly {
				clients, err := o.clients()
				if err != nil {
					return err
				}
				if report.ControlPlanes, err = controlPlaneVersions(cmd.Context(), clients.Client); err != nil {
					return err
				}
			}
			if output != outputTable {
				return printData(o.IO.Out, report, output)
			}
			return printVersion(o.IO.Out, report, clientOnly)
		},
	}
	addOutputFlag(cmd, &output, "json, yaml")
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Show the client's version only")
	return cmd
}

// controlPlaneVersions reads every mesh revision's control-plane Deployment.
func controlPlaneVersions(ctx context.Context, c client.Reader) ([]controlPlaneVersion, error) {
	states, err := loadMeshes(ctx, c, "")
	if err != nil {
		return nil, err
	}
	var out []controlPlaneVersion
	for _, s := range states {
		specs := map[string]*operatorv1alpha1.MeshOperatorSpec{}
		var order []string
		for i := range s.Revisions {
			r := &s.Revisions[i]
			specs[r.Spec.Revision], order = &r.Spec.MeshSpec, append(order, r.Spec.Revision)
		}
		if len(order) == 0 { // no MeshRevision yet: the spec's own revision
			rev := values.Revision(&s.Mesh.Spec)
			if rev == "" {
				rev = "default"
			}
			specs[rev], order = &s.Mesh.Spec, []string{rev}
		}
		for _, rev := range order {
			v, err := deploymentVersion(ctx, c, s.Mesh.Name, rev, specs[rev])
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func deploymentVersion(ctx context.Context, c client.Reader, mesh, rev string, spec *operatorv1alpha1.MeshOperatorSpec) (controlPlaneVersion, error) {
	key := client.ObjectKey{Namespace: spec.Namespace, Name: values.ControlPlaneName(spec)}
	v := controlPlaneVersion{Mesh: mesh, Revision: rev, Deployment: key.String()}
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, key, d); err != nil {
		if apierrors.IsNotFound(err) {
			v.Problem = "Deployment not found"
			return v, nil
		}
		return v, fmt.Errorf("control-plane Deployment %s: %w", key, err)
	}
	v.Version = d.Labels[versionLabel]
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if ctr.Name == discoveryContainer {
			v.Image = ctr.Image
		}
	}
	if d.Spec.Replicas != nil {
		v.Replicas = *d.Spec.Replicas
	}
	v.ReadyReplicas = d.Status.ReadyReplicas
	return v, nil
}

func printVersion(out io.Writer, r versionReport, clientOnly bool) error {
	fmt.Fprintf(out, "Client version: %s (commit %s, %s)\n", r.Client.Version, r.Client.Commit, r.Client.GoVersion)
	if clientOnly {
		return nil
	}
	fmt.Fprintln(out)
	w := newTabWriter(out)
	fmt.Fprintln(w, "MESH\tREVISION\tDEPLOYMENT\tVERSION\tIMAGE\tREADY")
	for _, cp := range r.ControlPlanes {
		ready := fmt.Sprintf("%d/%d", cp.ReadyReplicas, cp.Replicas)
		if cp.Problem != "" {
			ready = cp.Problem
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", cp.Mesh, cp.Revision, cp.Deployment, orNone(cp.Version), orNone(cp.Image), ready)
	}
	return w.Flush()
}
