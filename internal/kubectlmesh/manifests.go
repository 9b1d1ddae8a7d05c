package kubectlmesh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// manifest is one object read from -f, with where it came from for messages.
type manifest struct {
	*unstructured.Unstructured
	source string // "file.yaml#2"
}

// describe names the object as messages do: "VirtualService demo/reviews".
func describe(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + " " + u.GetName()
	}
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// readManifests reads the objects of every -f argument: files, directories (their .yaml,
// .yml and .json files, not recursively) or "-" for stdin. Objects without a namespace get
// defaultNamespace, as kubectl apply does; each gets a UID of its own so the model can tell
// them apart.
func readManifests(paths []string, stdin io.Reader, defaultNamespace string) ([]manifest, error) {
	var out []manifest
	for _, p := range paths {
		files, err := expandPath(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			r := stdin
			if f != "-" {
				file, err := os.Open(f)
				if err != nil {
					return nil, err
				}
				defer func() { _ = file.Close() }()
				r = file
			}
			objs, err := decodeManifests(r, f, defaultNamespace)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

func expandPath(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	slices.Sort(files)
	return files, nil
}

func decodeManifests(r io.Reader, name, defaultNamespace string) ([]manifest, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []manifest
	for i := 1; ; i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		source := fmt.Sprintf("%s#%d", name, i)
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("%s: an object needs apiVersion, kind and metadata.name", source)
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(defaultNamespace)
		}
		u.SetUID(types.UID("file:" + strings.ToLower(u.GetKind()) + "/" + u.GetNamespace() + "/" + u.GetName()))
		u.SetResourceVersion("file")
		out = append(out, manifest{Unstructured: u, source: source})
	}
}
