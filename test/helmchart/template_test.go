package helmchart

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const keepPolicy = "helm.sh/resource-policy"

func renderObjects(t *testing.T, vals map[string]any) objects {
	t.Helper()
	manifest, _, err := template(loadChart(t, chartDir), vals)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	return parseManifest(t, manifest)
}

// managerDeployment is config/manager/manager.yaml, the kustomize install the chart mirrors.
func managerDeployment(t *testing.T) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	readYAML(t, filepath.Join(configDir, "manager", "manager.yaml"), &d)
	return d
}

func TestTemplateDefaults(t *testing.T) {
	objs := renderObjects(t, nil)

	var d appsv1.Deployment
	objs.get(t, "Deployment/loom-operator", &d)
	want := managerDeployment(t)
	got, wantC := d.Spec.Template.Spec.Containers[0], want.Spec.Template.Spec.Containers[0]
	if got.Image != "loom:v1.1.0" {
		t.Errorf("image = %q, want the chart's appVersion loom:v1.1.0", got.Image)
	}
	if wantArgs := append(slices.Clone(wantC.Args), "--zap-log-level=info"); !slices.Equal(got.Args, wantArgs) {
		t.Errorf("args = %q, want config/manager's %q", got.Args, wantArgs)
	}
	// Everything else about the container and pod is config/manager's.
	got.Image, got.Args, wantC.Image, wantC.Args = "", nil, "", nil
	if diff := cmp.Diff(wantC, got); diff != "" {
		t.Errorf("operator container differs from config/manager/manager.yaml (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.Spec.Template.Spec.SecurityContext, d.Spec.Template.Spec.SecurityContext); diff != "" {
		t.Errorf("pod securityContext (-want +got):\n%s", diff)
	}
	if !reflect.DeepEqual(d.Spec.Template.Spec.TerminationGracePeriodSeconds, want.Spec.Template.Spec.TerminationGracePeriodSeconds) {
		t.Errorf("terminationGracePeriodSeconds = %v", d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	}
	if *d.Spec.Replicas != 1 || d.Namespace != releaseNamespace || d.Spec.Template.Spec.ServiceAccountName != "loom-operator" {
		t.Errorf("replicas %d, namespace %q, serviceAccountName %q", *d.Spec.Replicas, d.Namespace, d.Spec.Template.Spec.ServiceAccountName)
	}

	var sa corev1.ServiceAccount
	objs.get(t, "ServiceAccount/loom-operator", &sa)

	var role, wantRole rbacv1.ClusterRole
	objs.get(t, "ClusterRole/loom-operator", &role)
	readYAML(t, filepath.Join(configDir, "rbac", "role.yaml"), &wantRole)
	if diff := cmp.Diff(wantRole.Rules, role.Rules); diff != "" {
		t.Errorf("ClusterRole rules differ from config/rbac/role.yaml (-want +got):\n%s", diff)
	}
	var binding rbacv1.ClusterRoleBinding
	objs.get(t, "ClusterRoleBinding/loom-operator", &binding)
	wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: "loom-operator", Namespace: releaseNamespace}
	if binding.RoleRef.Name != "loom-operator" || len(binding.Subjects) != 1 || binding.Subjects[0] != wantSubject {
		t.Errorf("ClusterRoleBinding roleRef %+v subjects %+v", binding.RoleRef, binding.Subjects)
	}

	var election, wantElection rbacv1.Role
	objs.get(t, "Role/loom-operator-leader-election", &election)
	readYAML(t, filepath.Join(configDir, "rbac", "leader_election_role.yaml"), &wantElection)
	if diff := cmp.Diff(wantElection.Rules, election.Rules); diff != "" {
		t.Errorf("leader-election Role rules differ from config/rbac (-want +got):\n%s", diff)
	}
	var electionBinding rbacv1.RoleBinding
	objs.get(t, "RoleBinding/loom-operator-leader-election", &electionBinding)
	if electionBinding.RoleRef.Name != election.Name || len(electionBinding.Subjects) != 1 || electionBinding.Subjects[0] != wantSubject {
		t.Errorf("leader-election RoleBinding roleRef %+v subjects %+v", electionBinding.RoleRef, electionBinding.Subjects)
	}

	var svc corev1.Service
	objs.get(t, "Service/loom-operator-metrics", &svc)
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
		t.Errorf("metrics Service selector %v ports %+v; pod labels %v", svc.Spec.Selector, svc.Spec.Ports, d.Spec.Template.Labels)
	}
	if _, ok := objs["ServiceMonitor/loom-operator"]; ok {
		t.Error("ServiceMonitor rendered though metrics.serviceMonitor.enabled is false")
	}
	checkCRDs(t, objs, true)
}

// checkCRDs: every config/crd/bases CRD is rendered with the same spec, and annotated keep
// when keep is set.
func checkCRDs(t *testing.T, objs objects, keep bool) {
	t.Helper()
	for _, path := range crdFiles(t) {
		var want map[string]any
		readYAML(t, path, &want)
		name := want["metadata"].(map[string]any)["name"].(string)
		got, ok := objs["CustomResourceDefinition/"+name]
		if !ok {
			t.Errorf("CRD %s not rendered", name)
			continue
		}
		if diff := cmp.Diff(want["spec"], got.Object["spec"]); diff != "" {
			t.Errorf("CRD %s spec differs from %s (-want +got):\n%s", name, path, diff)
		}
		if got.GetAnnotations()["controller-gen.kubebuilder.io/version"] == "" {
			t.Errorf("CRD %s lost controller-gen's annotation: %v", name, got.GetAnnotations())
		}
		if policy := got.GetAnnotations()[keepPolicy]; (policy == "keep") != keep {
			t.Errorf("CRD %s %s = %q, want keep: %v", name, keepPolicy, policy, keep)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func TestTemplateEveryValue(t *testing.T) {
	objs := renderObjects(t, readValuesFile(t, "testdata/all-values.yaml"))

	var d appsv1.Deployment
	objs.get(t, "Deployment/mesh-operator", &d)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	checks := map[string]bool{
		"replicaCount":      *d.Spec.Replicas == 3,
		"image":             c.Image == "registry.example/loom/loom@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" && c.ImagePullPolicy == corev1.PullAlways,
		"imageRegistry":     reflect.DeepEqual(c.Env, []corev1.EnvVar{{Name: "LOOM_IMAGE_REGISTRY", Value: "mirror.example:5000/loom"}}),
		"imagePullSecrets":  reflect.DeepEqual(pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}),
		"nameOverride":      d.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == "loom-ctl",
		"args":              slices.Equal(c.Args, []string{"operator", "--metrics-bind-address=:9440", "--health-probe-bind-address=:9441", "--zap-log-level=debug", "--tracing-otlp-endpoint=jaeger-collector.loom-system.svc:4317", "--tracing-sample-ratio=0.5", "--zap-encoder=console"}),
		"serviceAccount":    pod.ServiceAccountName == "loom-sa",
		"podAnnotations":    d.Spec.Template.Annotations["example.com/scrape"] == "true",
		"podLabels":         d.Spec.Template.Labels["team"] == "mesh",
		"priorityClassName": pod.PriorityClassName == "system-cluster-critical",
		"resources":         c.Resources.Limits.Cpu().String() == "1" && c.Resources.Requests.Memory().String() == "128Mi",
		"nodeSelector":      pod.NodeSelector["kubernetes.io/os"] == "linux",
		"tolerations":       len(pod.Tolerations) == 1 && pod.Tolerations[0].Key == "dedicated" && pod.Tolerations[0].Effect == corev1.TaintEffectNoSchedule,
		"affinity":          pod.Affinity != nil && pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key == "kubernetes.io/arch",
		"ports":             c.Ports[0].ContainerPort == 9440 && c.Ports[1].ContainerPort == 9441,
	}
	for value, ok := range checks {
		if !ok {
			t.Errorf("%s not applied to the Deployment:\n%s", value, toYAML(t, objs["Deployment/mesh-operator"]))
		}
	}

	var sa corev1.ServiceAccount
	objs.get(t, "ServiceAccount/loom-sa", &sa)
	if sa.Annotations["iam.example/role"] != "loom" {
		t.Errorf("serviceAccount.annotations not applied: %v", sa.Annotations)
	}
	var binding rbacv1.ClusterRoleBinding
	objs.get(t, "ClusterRoleBinding/mesh-operator", &binding)
	if binding.Subjects[0].Name != "loom-sa" {
		t.Errorf("ClusterRoleBinding subject %+v, want the ServiceAccount loom-sa", binding.Subjects[0])
	}
	if _, ok := objs["Role/mesh-operator-leader-election"]; ok {
		t.Error("leader-election Role rendered with leaderElection.enabled false")
	}

	var svc corev1.Service
	objs.get(t, "Service/mesh-operator-metrics", &svc)
	if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].Port != 9090 || svc.Annotations["example.com/owner"] != "mesh" {
		t.Errorf("metrics.service values not applied: type %s ports %+v annotations %v", svc.Spec.Type, svc.Spec.Ports, svc.Annotations)
	}

	sm, ok := objs["ServiceMonitor/mesh-operator"]
	if !ok {
		t.Fatalf("ServiceMonitor not rendered; have %v", objs.keys())
	}
	endpoint := nested(t, sm, "spec", "endpoints").([]any)[0].(map[string]any)
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetLabels()["release"] != "prometheus" ||
		endpoint["port"] != "metrics" || endpoint["interval"] != "15s" || endpoint["scrapeTimeout"] != "10s" {
		t.Errorf("ServiceMonitor:\n%s", toYAML(t, sm))
	}
	if matchLabels := nested(t, sm, "spec", "selector", "matchLabels").(map[string]any); !selects(toStrings(matchLabels), svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the metrics Service (labels %v)", matchLabels, svc.Labels)
	}
	checkCRDs(t, objs, false)
}

// Switching the optional parts off leaves them out.
func TestTemplateOptionalPartsOff(t *testing.T) {
	objs := renderObjects(t, map[string]any{
		"crds":           map[string]any{"enabled": false},
		"rbac":           map[string]any{"create": false},
		"serviceAccount": map[string]any{"create": false, "name": "existing"},
		"metrics":        map[string]any{"service": map[string]any{"enabled": false}},
	})
	want := []string{"Deployment/loom-operator"}
	if got := objs.keys(); !slices.Equal(got, want) {
		t.Errorf("rendered %v, want only %v", got, want)
	}
	var d appsv1.Deployment
	objs.get(t, "Deployment/loom-operator", &d)
	if d.Spec.Template.Spec.ServiceAccountName != "existing" {
		t.Errorf("serviceAccountName = %q, want existing", d.Spec.Template.Spec.ServiceAccountName)
	}

	_, _, err := template(loadChart(t, chartDir), map[string]any{"metrics": map[string]any{
		"service": map[string]any{"enabled": false}, "serviceMonitor": map[string]any{"enabled": true}}})
	if err == nil || !strings.Contains(err.Error(), "metrics.service.enabled") {
		t.Errorf("a ServiceMonitor without the metrics Service: err = %v, want one naming metrics.service.enabled", err)
	}
}

// `helm template` gives the same bytes every time (Argo CD and GitOps diffs rely on it).
func TestTemplateDeterministic(t *testing.T) {
	vals := readValuesFile(t, "testdata/all-values.yaml")
	first, firstNotes, err := template(loadChart(t, chartDir), vals)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, notes, err := template(loadChart(t, chartDir), vals)
		if err != nil {
			t.Fatal(err)
		}
		if again != first || notes != firstNotes {
			t.Fatalf("two renders differ:\n%s", cmp.Diff(first, again))
		}
	}
}

// Every value in values.yaml is set in testdata/all-values.yaml, so TestTemplateEveryValue
// and TestLint see each one.
func TestAllValuesCovered(t *testing.T) {
	defaults := readValuesFile(t, filepath.Join(chartDir, "values.yaml"))
	all := readValuesFile(t, "testdata/all-values.yaml")
	var missing []string
	var walk func(prefix string, d, a map[string]any)
	walk = func(prefix string, d, a map[string]any) {
		for k, v := range d {
			av, ok := a[k]
			if !ok {
				missing = append(missing, prefix+k)
				continue
			}
			if dm, isMap := v.(map[string]any); isMap && len(dm) > 0 {
				am, _ := av.(map[string]any)
				walk(prefix+k+".", dm, am)
			}
		}
	}
	walk("", defaults, all)
	if len(missing) > 0 {
		t.Errorf("testdata/all-values.yaml does not set %v", missing)
	}
}

func nested(t *testing.T, u *unstructured.Unstructured, fields ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if err != nil || !ok {
		t.Fatalf("%s/%s has no %v (%v)", u.GetKind(), u.GetName(), fields, err)
	}
	return v
}

func toStrings(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

func toYAML(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	data, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// imageRegistry qualifies the operator's own image unless image.repository names a registry,
// and reaches the operator as LOOM_IMAGE_REGISTRY (its --image-registry default).
func TestTemplateImageRegistry(t *testing.T) {
	for _, tc := range []struct {
		registry, repository, wantImage string
	}{
		{"", "loom", "loom:v1.1.0"},
		{"localhost:5000/mirror/", "loom", "localhost:5000/mirror/loom:v1.1.0"},
		{"quay.io", "team/loom", "quay.io/team/loom:v1.1.0"},
		{"quay.io", "ghcr.io/team/loom", "ghcr.io/team/loom:v1.1.0"},
	} {
		objs := renderObjects(t, map[string]any{"imageRegistry": tc.registry, "image": map[string]any{"repository": tc.repository}})
		var d appsv1.Deployment
		objs.get(t, "Deployment/loom-operator", &d)
		c := d.Spec.Template.Spec.Containers[0]
		if c.Image != tc.wantImage {
			t.Errorf("imageRegistry %q, repository %q: image %q, want %q", tc.registry, tc.repository, c.Image, tc.wantImage)
		}
		// image.digest pins the same image by digest.
		digest := "sha256:" + strings.Repeat("0", 64)
		objs = renderObjects(t, map[string]any{"imageRegistry": tc.registry, "image": map[string]any{"repository": tc.repository, "tag": "v2", "digest": digest}})
		objs.get(t, "Deployment/loom-operator", &d)
		if got, want := d.Spec.Template.Spec.Containers[0].Image, strings.TrimSuffix(tc.wantImage, ":v1.1.0")+"@"+digest; got != want {
			t.Errorf("imageRegistry %q, repository %q, digest: image %q, want %q", tc.registry, tc.repository, got, want)
		}
		if want := []corev1.EnvVar{{Name: "LOOM_IMAGE_REGISTRY", Value: tc.registry}}; !reflect.DeepEqual(c.Env, want) {
			t.Errorf("imageRegistry %q: env %v, want %v", tc.registry, c.Env, want)
		}
	}
}
