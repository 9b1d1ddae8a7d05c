package dashboards

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/webhook"
	"loom.dev/loom/pkg/inject"
	"loom.dev/loom/pkg/xds"
)

// describingRegisterer records the names of the metrics registered with it,
// from each collector's Describe, as a prometheus.Registry would see them.
type describingRegisterer struct {
	t     *testing.T
	names map[string]bool
}

var fqNameInDesc = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *describingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		m := fqNameInDesc.FindStringSubmatch(d.String())
		if m == nil {
			r.t.Fatalf("cannot read the name of %s", d)
		}
		r.names[m[1]] = true
	}
	return nil
}

func (r *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *describingRegisterer) Unregister(prometheus.Collector) bool { return false }

// runtimeMetricNames are the metrics the Loom code registers when built
// with a Registerer: the xDS server, the webhooks, and the Go and process
// collectors loom discovery (and controller-runtime, for the operator) add.
func runtimeMetricNames(t *testing.T) (xdsNames, webhookNames, processNames map[string]bool) {
	xdsReg := &describingRegisterer{t: t, names: map[string]bool{}}
	xds.NewServer(xds.Options{Registerer: xdsReg})
	hookReg := &describingRegisterer{t: t, names: map[string]bool{}}
	webhook.NewInjector(inject.Settings{}, nil, hookReg)
	webhook.NewValidator(hookReg)
	procReg := &describingRegisterer{t: t, names: map[string]bool{}}
	procReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return xdsReg.names, hookReg.names, procReg.names
}

// declaredMetricNames reads the Go sources of dir (tests excluded) and
// returns the full name of every prometheus.*Opts literal and
// prometheus.NewDesc call in them. It is
// for packages whose metrics cannot be built without a cluster; a name it
// cannot resolve to a constant fails the test.
func declaredMetricNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	consts := map[string]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := stringLiteral(vs.Values[i]); ok {
							consts[name.Name] = s
						}
					}
				}
			}
			return true
		})
	}
	names := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			// A custom collector's prometheus.NewDesc(name, ...).
			if call, ok := n.(*ast.CallExpr); ok && exprName(call.Fun) == "prometheus.NewDesc" && len(call.Args) > 0 {
				v, ok := stringLiteral(call.Args[0])
				if !ok {
					v, ok = consts[exprName(call.Args[0])]
				}
				if !ok {
					t.Errorf("%s: the name of a prometheus.NewDesc is not a constant", fset.Position(call.Pos()))
				}
				names[v] = true
				return true
			}
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") || exprName(sel.X) != "prometheus" {
				return true
			}
			parts := map[string]string{}
			for _, elt := range lit.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key := exprName(kv.Key)
				if key != "Namespace" && key != "Subsystem" && key != "Name" {
					continue
				}
				v, ok := stringLiteral(kv.Value)
				if !ok {
					v, ok = consts[exprName(kv.Value)]
				}
				if !ok {
					t.Errorf("%s: %s of a metric is not a constant", fset.Position(kv.Pos()), key)
				}
				parts[key] = v
			}
			if parts["Name"] != "" {
				names[prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"])] = true
			}
			return true
		})
	}
	return names
}

func stringLiteral(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// exprName prints an identifier or a selector (pkg.Name).
func exprName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprName(x.X) + "." + x.Sel.Name
	}
	return ""
}

// moduleDir is the directory of a module in the build (go list -m).
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

// knownMetrics are the names a dashboard may use, by where they come from.
type knownMetrics struct {
	recordingRules    map[string]bool // the contract's, recorded by the Prometheus add-on
	loom              map[string]bool // registered by loom discovery and the operator
	controllerRuntime map[string]bool
	envoy             map[string]bool // testdata/envoy-cluster-stats.txt
	prometheus        map[string]bool // series Prometheus writes itself for every target
}

func loadKnownMetrics(t *testing.T) *knownMetrics {
	t.Helper()
	xdsNames, hookNames, procNames := runtimeMetricNames(t)
	loom := map[string]bool{}
	for _, set := range []map[string]bool{xdsNames, hookNames, procNames} {
		for n := range set {
			loom[n] = true
		}
	}
	for _, dir := range []string{"../../internal/discovery", "../../internal/meshca", "../../controllers"} {
		for n := range declaredMetricNames(t, dir) {
			loom[n] = true
		}
	}
	return &knownMetrics{
		recordingRules:    readList(t, "testdata/recording-rules.txt"),
		loom:              loom,
		controllerRuntime: declaredMetricNames(t, filepath.Join(moduleDir(t, "sigs.k8s.io/controller-runtime"), "pkg/internal/controller/metrics")),
		envoy:             readList(t, "testdata/envoy-cluster-stats.txt"),
		prometheus:        map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true},
	}
}

// source says where a metric name comes from, "" if nowhere known. A
// histogram's or summary's _bucket, _sum and _count series count as its name.
func (k *knownMetrics) source(name string) string {
	candidates := []string{name}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			candidates = append(candidates, base)
		}
	}
	if k.recordingRules[name] {
		return "recording rule"
	}
	for _, n := range candidates {
		switch {
		case k.loom[n]:
			return "loom"
		case k.controllerRuntime[n]:
			return "controller-runtime"
		case k.envoy[n]:
			return "envoy"
		case k.prometheus[n]:
			return "prometheus"
		}
	}
	return ""
}

func readList(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	names := map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.HasPrefix(line, "#") {
			names[line] = true
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestSourceScanFindsWhatTheCodeRegisters: the source scan used for
// discovery, the CA and the operator finds exactly the metrics the xDS
// server and the webhooks register at run time, so it misses none there.
func TestSourceScanFindsWhatTheCodeRegisters(t *testing.T) {
	xdsNames, hookNames, _ := runtimeMetricNames(t)
	for dir, registered := range map[string]map[string]bool{"../../pkg/xds": xdsNames, "../../internal/webhook": hookNames} {
		declared := declaredMetricNames(t, dir)
		if len(registered) == 0 || !mapsEqual(declared, registered) {
			t.Errorf("%s: source scan finds %v, the code registers %v", dir, keys(declared), keys(registered))
		}
	}
	k := loadKnownMetrics(t)
	for _, want := range []string{"loom_discovery_config_problems", "loom_ca_certificate_requests_total", "loom_operator_component_ready", "process_resident_memory_bytes"} {
		if !k.loom[want] {
			t.Errorf("%s is not among the Loom metrics found: %v", want, keys(k.loom))
		}
	}
	if !k.controllerRuntime["controller_runtime_reconcile_total"] || !k.controllerRuntime["controller_runtime_reconcile_time_seconds"] {
		t.Errorf("controller-runtime's reconcile metrics not found: %v", keys(k.controllerRuntime))
	}
}

// TestContractRecordingRulesAreRecorded: every recording rule the
// dashboards may use is recorded by the Prometheus add-on.
func TestContractRecordingRulesAreRecorded(t *testing.T) {
	data, err := os.ReadFile("../../pkg/render/charts/prometheus/files/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Record string `json:"record"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			recorded[r.Record] = true
		}
	}
	for name := range readList(t, "testdata/recording-rules.txt") {
		if !recorded[name] {
			t.Errorf("recording rule %s is not recorded by the Prometheus add-on (recorded: %v)", name, keys(recorded))
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	return slices.Equal(keys(a), keys(b))
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
