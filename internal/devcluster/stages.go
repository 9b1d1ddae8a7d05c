package devcluster

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed stages/*.yaml
var ownStages embed.FS

// kwokStages are the kwok module's own stages that hack/k8s-binaries.sh copies next to kwok.
var kwokStages = []string{"node-initialize", "node-heartbeat", "pod-complete", "pod-delete"}

// writeKwokStages returns the stage files for kwok: kwok's node and pod-deletion stages plus
// Loom's zero-delay pod stage, written into the cluster folder.
func (c *Cluster) writeKwokStages() ([]string, error) {
	var paths []string
	for _, name := range kwokStages {
		path := filepath.Join(c.assets, "kwok-stages", name+".yaml")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("kwok stage %s missing in %s: rebuild with `make k8s-binaries`", name, c.assets)
		}
		paths = append(paths, path)
	}
	entries, err := ownStages.ReadDir("stages")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.Dir, "stages")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := ownStages.ReadFile("stages/" + e.Name())
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, e.Name())
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
