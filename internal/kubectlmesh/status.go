package kubectlmesh

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// meshState is one mesh as the status command shows it.
type meshState struct {
	Mesh      *operatorv1alpha1.MeshOperator
	Revisions []operatorv1alpha1.MeshRevision // the mesh's MeshRevision objects, by name
}

func newStatusCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [mesh]",
		Short: "Show a mesh's conditions, components, revisions and CA",
		Long: "Shows each MeshOperator (or the one named): its conditions, components, the " +
			"control-plane revisions from its MeshRevision objects (Ready, In use) and its CA.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outputWide, outputJSON, outputYAML); err != nil {
				return err
			}
			clients, err := o.clients()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			states, err := loadMeshes(cmd.Context(), clients.Client, name)
			if err != nil {
				return err
			}
			return printStatus(o.IO.Out, states, output)
		},
	}
	addOutputFlag(cmd, &output, "wide, json, yaml")
	return cmd
}

// loadMeshes reads the named MeshOperator (every one when name is empty) and its revisions.
func loadMeshes(ctx context.Context, c client.Reader, name string) ([]meshState, error) {
	var meshes []operatorv1alpha1.MeshOperator
	if name != "" {
		mesh := &operatorv1alpha1.MeshOperator{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, mesh); err != nil {
			return nil, fmt.Errorf("MeshOperator %s: %w", name, err)
		}
		meshes = append(meshes, *mesh)
	} else {
		list := &operatorv1alpha1.MeshOperatorList{}
		if err := c.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing MeshOperators: %w", err)
		}
		if len(list.Items) == 0 {
			return nil, fmt.Errorf("no MeshOperator found in the cluster")
		}
		meshes = list.Items
	}
	revisions := &operatorv1alpha1.MeshRevisionList{}
	if err := c.List(ctx, revisions); err != nil {
		return nil, fmt.Errorf("listing MeshRevisions: %w", err)
	}
	slices.SortFunc(meshes, func(a, b operatorv1alpha1.MeshOperator) int { return strings.Compare(a.Name, b.Name) })
	states := make([]meshState, 0, len(meshes))
	for i := range meshes {
		st := meshState{Mesh: &meshes[i]}
		for _, rev := range revisions.Items {
			if rev.Spec.Mesh == meshes[i].Name {
				st.Revisions = append(st.Revisions, rev)
			}
		}
		current := meshes[i].Status.Revision
		slices.SortFunc(st.Revisions, func(a, b operatorv1alpha1.MeshRevision) int {
			// The current revision first, then by name.
			if (a.Spec.Revision == current) != (b.Spec.Revision == current) {
				if a.Spec.Revision == current {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		states = append(states, st)
	}
	return states, nil
}

// objects lists the states' objects, each mesh followed by its revisions, for -o json|yaml.
func (s meshState) objects() []runtime.Object {
	out := []runtime.Object{s.Mesh}
	for i := range s.Revisions {
		out = append(out, &s.Revisions[i])
	}
	return out
}
