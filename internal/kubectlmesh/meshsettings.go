package kubectlmesh

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/meshsettings"
	"loom.dev/loom/pkg/model"
)

// The control-plane chart's app label on its Deployment (cp.selectorLabels), beside istio.io/rev.
const (
	controlPlaneAppName = "loom-control-plane"
	labelAppName        = "app.kubernetes.io/name"
)

// meshFlags say where translate takes the mesh-wide settings from.
type meshFlags struct {
	// file is --mesh-config: a mesh config file, read as `loom discovery --mesh-config` reads it.
	file string
	// defaults is --default-mesh-config: Istio's defaults, on purpose.
	defaults bool
	// rootNamespace and revision are --root-namespace and --revision ("" to read them).
	rootNamespace, revision string
}

func (f *meshFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.file, "mesh-config", "", "Mesh config file (the mesh.yaml of the control plane's ConfigMap) to translate with, instead of the one the proxy's control plane runs with")
	fl.BoolVar(&f.defaults, "default-mesh-config", false, "Translate with the default mesh settings instead of the control plane's")
	fl.StringVar(&f.rootNamespace, "root-namespace", "", "Namespace of mesh-wide defaults (default: the control plane's --root-namespace; with --mesh-config or --default-mesh-config the MeshOperator's control-plane namespace, else istio-system)")
	fl.StringVar(&f.revision, "revision", "", "Control-plane revision whose settings to use (default: the pod's istio.io/rev label, else the revision new workloads use)")
}

// meshInput is the model's mesh-wide input for a proxy of revision: what `loom discovery` of
// that revision runs with (its Deployment's flags and the mesh config its ConfigMap mounts),
// or what the flags choose instead. Settings that cannot be read are an error, never a
// silent fall-back to defaults.
func (f *meshFlags) meshInput(ctx context.Context, r client.Reader, revision string) (model.Input, error) {
	if f.file != "" && f.defaults {
		return model.Input{}, fmt.Errorf("--mesh-config and --default-mesh-config exclude each other")
	}
	if f.revision != "" {
		revision = f.revision
	}
	var in model.Input
	var err error
	switch {
	case f.file != "":
		in, err = offlineMeshInput(ctx, r, f.file)
	case f.defaults:
		in, err = offlineMeshInput(ctx, r, "")
	default:
		if revision == "" {
			revision = currentRevision(ctx, r)
		}
		in, err = controlPlaneMeshInput(ctx, r, revision)
		if err != nil {
			err = fmt.Errorf("reading the mesh settings of the control plane of revision %q: %w; "+
				"pass --mesh-config <file> (its mesh.yaml) or --default-mesh-config to translate without them", revisionName(revision), err)
		}
	}
	if err != nil {
		return model.Input{}, err
	}
	if f.rootNamespace != "" {
		in.RootNamespace = f.rootNamespace
	}
	return in, nil
}

// offlineMeshInput reads the mesh config file ("" for the defaults) with the MeshOperator's
// namespace as the root namespace, as the control plane would run in it.
func offlineMeshInput(ctx context.Context, r client.Reader, file string) (model.Input, error) {
	var mesh meshsettings.Mesh
	if file != "" {
		var err error
		if mesh, err = meshsettings.ReadFile(file); err != nil {
			return model.Input{}, err
		}
	}
	return mesh.Input("", meshRootNamespace(ctx, r))
}

// currentRevision is the revision new workloads use, for a proxy that names none: the only
// MeshOperator's, else the default revision.
func currentRevision(ctx context.Context, r client.Reader) string {
	state, err := pickMesh(ctx, r, "")
	if err != nil {
		return ""
	}
	return state.Mesh.Status.Revision
}

// revisionName is the istio.io/rev value of a revision ("" is the default one).
func revisionName(revision string) string {
	if revision == "" {
		return "default"
	}
	return revision
}

// controlPlaneMeshInput reads what the control plane of revision reads at start: the flags
// of its Deployment's discovery container and the mesh config file they name, from the
// ConfigMap mounted there.
func controlPlaneMeshInput(ctx context.Context, r client.Reader, revision string) (model.Input, error) {
	deploy, err := revisionDeployment(ctx, r, revision)
	if err != nil {
		return model.Input{}, err
	}
	name := deploy.Namespace + "/" + deploy.Name
	spec := &deploy.Spec.Template.Spec
	i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == discoveryContainer })
	if i < 0 {
		return model.Input{}, fmt.Errorf("control-plane Deployment %s: no container %q", name, discoveryContainer)
	}
	c := &spec.Containers[i]
	// The subcommand ("discovery") is a positional argument, which ParseArgs ignores.
	args := append(slices.Clone(c.Command[min(1, len(c.Command)):]), c.Args...)
	flags, err := meshsettings.ParseArgs(args, podNamespace(c, deploy.Namespace))
	if err != nil {
		return model.Input{}, fmt.Errorf("control-plane Deployment %s container %s: %w", name, c.Name, err)
	}
	var mesh meshsettings.Mesh
	if flags.MeshConfig != "" {
		data, source, err := mountedFile(ctx, r, deploy, c, flags.MeshConfig)
		if err != nil {
			return model.Input{}, fmt.Errorf("control-plane Deployment %s container %s --mesh-config=%s: %w", name, c.Name, flags.MeshConfig, err)
		}
		if mesh, err = meshsettings.Parse(data, source); err != nil {
			return model.Input{}, err
		}
	}
	return mesh.Input(flags.DomainSuffix, flags.RootNamespace)
}

// revisionDeployment is the only Deployment of the control-plane chart for revision.
func revisionDeployment(ctx context.Context, r client.Reader, revision string) (*appsv1.Deployment, error) {
	var list appsv1.DeploymentList
	selector := client.MatchingLabels{labelAppName: controlPlaneAppName, revisionLabel: revisionName(revision)}
	if err := r.List(ctx, &list, selector); err != nil {
		return nil, fmt.Errorf("list Deployments %s=%s,%s=%s: %w", labelAppName, controlPlaneAppName, revisionLabel, revisionName(revision), err)
	}
	switch len(list.Items) {
	case 0:
		return nil, fmt.Errorf("no Deployment labelled %s=%s,%s=%s", labelAppName, controlPlaneAppName, revisionLabel, revisionName(revision))
	case 1:
		return &list.Items[0], nil
	}
	names := make([]string, 0, len(list.Items))
	for _, d := range list.Items {
		names = append(names, d.Namespace+"/"+d.Name)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("several control-plane Deployments: %s", strings.Join(names, ", "))
}

// podNamespace is the $POD_NAMESPACE the container runs with ("" when unset).
func podNamespace(c *corev1.Container, namespace string) string {
	for _, e := range c.Env {
		if e.Name != "POD_NAMESPACE" {
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace" {
			return namespace
		}
		return e.Value
	}
	return ""
}

// mountedFile reads the file at file in container c from the ConfigMap volume mounted there;
// source names it for errors.
func mountedFile(ctx context.Context, r client.Reader, deploy *appsv1.Deployment, c *corev1.Container, file string) ([]byte, string, error) {
	file = path.Clean(file)
	var mount *corev1.VolumeMount
	var key string
	for i, m := range c.VolumeMounts {
		dir := path.Clean(m.MountPath)
		rel, ok := strings.CutPrefix(file, dir+"/")
		if m.SubPath != "" {
			rel, ok = m.SubPath, file == dir
		}
		if ok && (mount == nil || len(dir) > len(path.Clean(mount.MountPath))) {
			mount, key = &c.VolumeMounts[i], rel
		}
	}
	if mount == nil {
		return nil, "", fmt.Errorf("no volume is mounted at %s", path.Dir(file))
	}
	vols := deploy.Spec.Template.Spec.Volumes
	i := slices.IndexFunc(vols, func(v corev1.Volume) bool { return v.Name == mount.Name })
	if i < 0 || vols[i].ConfigMap == nil {
		return nil, "", fmt.Errorf("volume %q is not a ConfigMap volume", mount.Name)
	}
	src := vols[i].ConfigMap
	for _, item := range src.Items {
		if path.Clean(item.Path) == key {
			key = item.Key
		}
	}
	var cm corev1.ConfigMap
	if err := r.Get(ctx, client.ObjectKey{Namespace: deploy.Namespace, Name: src.Name}, &cm); err != nil {
		return nil, "", fmt.Errorf("ConfigMap %s/%s: %w", deploy.Namespace, src.Name, err)
	}
	source := fmt.Sprintf("ConfigMap %s/%s key %s", deploy.Namespace, src.Name, key)
	data, ok := cm.Data[key]
	if !ok {
		return nil, "", fmt.Errorf("%s: no such key", source)
	}
	return []byte(data), source, nil
}
