package inject

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	meshconfig "istio.io/api/mesh/v1alpha1"
	"sigs.k8s.io/yaml"
)

// proxyConfig is what Loom reads of the proxy.istio.io/config annotation.
type proxyConfig struct {
	hold          *bool
	drainDuration time.Duration
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
	return out, nil
}
