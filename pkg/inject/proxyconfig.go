package inject

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	meshconfig "istio.io/api/mesh/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// proxyConfig is what Loom reads of the proxy.istio.io/config annotation.
type proxyConfig struct {
	hold          *bool
	drainDuration time.Duration // terminationDrainDuration
	envoyDrain    time.Duration // drainDuration: Envoy's --drain-time-s
	concurrency   int32         // 0: unset or all cores, as Istio passes no --concurrency then
	statusPort    int32         // 0: unset
	metadata      []corev1.EnvVar
}

// parseProxyConfig reads the annotation as Istio does: YAML (or JSON) of a
// ProxyConfig, unknown fields ignored.
func parseProxyConfig(value string) (proxyConfig, error) {
	var out proxyConfig
	js, err := yaml.YAMLToJSON([]byte(value))
	if err != nil {
		return out, err
	}
	var pc meshconfig.ProxyConfig
	if string(js) != "null" {
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, &pc); err != nil {
			return out, err
		}
	}
	if h := pc.GetHoldApplicationUntilProxyStarts(); h != nil {
		out.hold = ptrTo(h.GetValue())
	}
	if d := pc.GetTerminationDrainDuration(); d != nil {
		if err := d.CheckValid(); err != nil {
			return out, fmt.Errorf("terminationDrainDuration: %w", err)
		}
		out.drainDuration = d.AsDuration()
		if out.drainDuration < time.Millisecond {
			return out, fmt.Errorf("terminationDrainDuration %s: must be at least 1ms", out.drainDuration)
		}
	}
	if d := pc.GetDrainDuration(); d != nil {
		// Istio's ValidateDrainDuration: at least 1ms, whole seconds.
		if err := d.CheckValid(); err != nil {
			return out, fmt.Errorf("drainDuration: %w", err)
		}
		switch out.envoyDrain = d.AsDuration(); {
		case out.envoyDrain < time.Millisecond:
			return out, fmt.Errorf("drainDuration %s: must be at least 1ms", out.envoyDrain)
		case out.envoyDrain%time.Second != 0:
			return out, fmt.Errorf("drainDuration %s: must be whole seconds (Envoy's --drain-time-s)", out.envoyDrain)
		}
	}
	if c := pc.GetConcurrency(); c != nil {
		if out.concurrency = c.GetValue(); out.concurrency < 0 {
			return out, fmt.Errorf("concurrency %d: must not be negative (0: one worker per core)", out.concurrency)
		}
	}
	if p := pc.GetStatusPort(); p < 0 || p > 65535 {
		return out, fmt.Errorf("statusPort %d: want 1-65535", p)
	} else if what, clash := envoyPorts[p]; clash {
		return out, fmt.Errorf("statusPort %d is %s", p, what)
	}
	out.statusPort = pc.GetStatusPort()
	if out.metadata, err = proxyMetadata(pc.GetProxyMetadata()); err != nil {
		return out, err
	}
	return out, nil
}

// proxyMetadata are the environment variables Istio's template sets on
// istio-proxy from proxyMetadata, in its order (by name).
func proxyMetadata(m map[string]string) ([]corev1.EnvVar, error) {
	var env []corev1.EnvVar
	for name, value := range m {
		if errs := validation.IsRelaxedEnvVarName(name); len(errs) > 0 {
			return nil, fmt.Errorf("proxyMetadata %q: not an environment variable name: %s", name, strings.Join(errs, "; "))
		}
		env = append(env, corev1.EnvVar{Name: name, Value: value})
	}
	slices.SortFunc(env, func(a, b corev1.EnvVar) int { return strings.Compare(a.Name, b.Name) })
	return env, nil
}
