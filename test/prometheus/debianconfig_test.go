package prometheus

import (
	"regexp"
	"testing"

	"sigs.k8s.io/yaml"
)

// debianConfig turns the chart's prometheus.yml into one Debian's Prometheus 2.42 loads: it is
// built without Kubernetes service discovery, so each job's kubernetes_sd_configs becomes a
// file_sd_configs reading sdFile(job), which the caller fills with the targets Kubernetes pod
// discovery would give; everything else (relabelling included) stays as rendered. The rules
// are read from rulesDir instead of the ConfigMap's mount path.
func debianConfig(t *testing.T, config string, sdFile func(job string) string, rulesDir string) string {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatalf("parsing the rendered prometheus.yml: %v", err)
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	if len(jobs) == 0 {
		t.Fatal("the rendered prometheus.yml has no scrape_configs")
	}
	for _, j := range jobs {
		job := j.(map[string]any)
		if _, ok := job["kubernetes_sd_configs"]; !ok {
			t.Fatalf("job %v does not use kubernetes_sd_configs", job["job_name"])
		}
		delete(job, "kubernetes_sd_configs")
		job["file_sd_configs"] = []any{map[string]any{"files": []any{sdFile(job["job_name"].(string))}}}
	}
	files, _ := cfg["rule_files"].([]any)
	if len(files) != 1 {
		t.Fatalf("rule_files %v, want the rules mount", files)
	}
	cfg["rule_files"] = []any{regexp.MustCompile(`^`+regexp.QuoteMeta(rulesMount)).ReplaceAllString(files[0].(string), rulesDir)}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
