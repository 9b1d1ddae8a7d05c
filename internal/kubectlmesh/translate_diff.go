package kubectlmesh

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/pmezard/go-difflib/difflib"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/translate"
)

// diffedTypes are the xDS types translate compares, in output order, by their kubectl-mesh
// proxy-config names. Secrets are left out: they carry key material.
var diffedTypes = []struct{ name, typeURL string }{
	{"listeners", resourcev3.ListenerType},
	{"routes", resourcev3.RouteType},
	{"clusters", resourcev3.ClusterType},
	{"endpoints", resourcev3.EndpointType},
}

// resourceChange is one resource that differs between the proxy's config before and after.
type resourceChange struct {
	Type   string          `json:"type"`
	Name   string          `json:"name"`
	Change string          `json:"change"` // added, removed or modified
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// diffResources lists the resources that differ, by type then name.
func diffResources(before, after translate.Resources) ([]resourceChange, error) {
	var out []resourceChange
	for _, t := range diffedTypes {
		b, err := resourcesByName(before[t.typeURL])
		if err != nil {
			return nil, err
		}
		a, err := resourcesByName(after[t.typeURL])
		if err != nil {
			return nil, err
		}
		var names []string
		for n := range b {
			names = append(names, n)
		}
		for n := range a {
			if _, ok := b[n]; !ok {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			bj, aj := b[n], a[n]
			switch {
			case bj == nil:
				out = append(out, resourceChange{Type: t.name, Name: n, Change: "added", After: aj})
			case aj == nil:
				out = append(out, resourceChange{Type: t.name, Name: n, Change: "removed", Before: bj})
			case string(bj) != string(aj):
				out = append(out, resourceChange{Type: t.name, Name: n, Change: "modified", Before: bj, After: aj})
			}
		}
	}
	return out, nil
}

// resourcesByName is each resource as indented JSON with stable formatting (protojson's own
// whitespace is deliberately unstable), by name.
func resourcesByName(rs []types.Resource) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(rs))
	for _, r := range rs {
		name := resourceName(r)
		data, err := protojson.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		if data, err = json.MarshalIndent(v, "", "  "); err != nil {
			return nil, err
		}
		out[name] = data
	}
	return out, nil
}

func resourceName(r types.Resource) string {
	switch v := r.(type) {
	case interface{ GetName() string }:
		return v.GetName()
	case interface{ GetClusterName() string }:
		return v.GetClusterName()
	}
	return fmt.Sprintf("%T", r)
}

// printUnifiedDiff prints each change as a unified diff of the resource's YAML, with
// "a/<type>/<name>" and "b/<type>/<name>" as the file names.
func printUnifiedDiff(out io.Writer, changes []resourceChange) error {
	for _, c := range changes {
		before, err := yamlLines(c.Before)
		if err != nil {
			return err
		}
		after, err := yamlLines(c.After)
		if err != nil {
			return err
		}
		from, to := "a/"+c.Type+"/"+c.Name, "b/"+c.Type+"/"+c.Name
		if c.Before == nil {
			from = "/dev/null"
		}
		if c.After == nil {
			to = "/dev/null"
		}
		if err := difflib.WriteUnifiedDiff(out, difflib.UnifiedDiff{A: before, B: after, FromFile: from, ToFile: to, Context: 3}); err != nil {
			return err
		}
	}
	return nil
}

func yamlLines(data json.RawMessage) ([]string, error) {
	if data == nil {
		return nil, nil
	}
	y, err := yaml.JSONToYAML(data)
	if err != nil {
		return nil, err
	}
	return difflib.SplitLines(string(y)), nil
}
