package inject

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// envoyLogLevels are the levels Envoy's --log-level and
// --component-log-level accept.
var envoyLogLevels = []string{"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}

// envoyComponent is the shape of an Envoy logger name (e.g. misc, http2,
// ext_authz); which names exist depends on the Envoy build, which checks them.
var envoyComponent = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// envoyLogging is Envoy's --log-level and --component-log-level ("": Envoy's default).
type envoyLogging struct {
	level, components string
}

// parseEnvoyLogging reads sidecar.istio.io/logLevel and componentLogLevel as
// Istio's agent does (pkg/envoy splitComponentLog): logLevel is a comma list
// of a level and component:level pairs, the last bare level wins; its pairs,
// when there are any, replace componentLogLevel. Where Istio's agent drops an
// entry it cannot read, Loom refuses the pod.
func parseEnvoyLogging(annotations map[string]string) (envoyLogging, error) {
	var out envoyLogging
	if v := annotations[annotationComponentLog]; v != "" {
		if err := checkComponentLevels(strings.Split(v, ",")); err != nil {
			return out, annotationError(annotationComponentLog, v, err)
		}
		out.components = v
	}
	v, ok := annotations[annotationLogLevel]
	if !ok {
		return out, nil
	}
	var pairs []string
	for _, entry := range strings.Split(v, ",") {
		if strings.Contains(entry, ":") {
			pairs = append(pairs, entry)
			continue
		}
		if entry != "" && !slices.Contains(envoyLogLevels, entry) {
			return out, annotationError(annotationLogLevel, v, fmt.Errorf("level %q: want one of %s", entry, strings.Join(envoyLogLevels, ", ")))
		}
		out.level = entry
	}
	if err := checkComponentLevels(pairs); err != nil {
		return out, annotationError(annotationLogLevel, v, err)
	}
	if len(pairs) > 0 {
		out.components = strings.Join(pairs, ",")
	}
	return out, nil
}

// checkComponentLevels checks component:level pairs.
func checkComponentLevels(pairs []string) error {
	for _, pair := range pairs {
		component, level, ok := strings.Cut(pair, ":")
		switch {
		case !ok || strings.Contains(level, ":"):
			return fmt.Errorf("%q: want component:level", pair)
		case !envoyComponent.MatchString(component):
			return fmt.Errorf("%q: %q is not an Envoy logger name", pair, component)
		case !slices.Contains(envoyLogLevels, level):
			return fmt.Errorf("%q: level %q: want one of %s", pair, level, strings.Join(envoyLogLevels, ", "))
		}
	}
	return nil
}

// args are the agent's flags that pass the levels on to Envoy.
func (l envoyLogging) args() []string {
	var args []string
	if l.level != "" {
		args = append(args, "--proxy-log-level", l.level)
	}
	if l.components != "" {
		args = append(args, "--proxy-component-log-level", l.components)
	}
	return args
}
