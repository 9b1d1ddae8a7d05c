package kubectlmesh

import "fmt"

// Message levels, as istioctl analyze names them.
const (
	levelError   = "Error"
	levelWarning = "Warning"
	levelInfo    = "Info"
)

// messageType is one kind of finding. Codes IST* are Istio's analyzer codes
// (galley's messages.yaml) for the same check; LOOM* are checks Istio has no code for.
type messageType struct {
	code, name, level string
}

var (
	msgReferencedResourceNotFound   = messageType{"IST0101", "ReferencedResourceNotFound", levelError}
	msgSchemaValidationError        = messageType{"IST0106", "SchemaValidationError", levelError}
	msgConflictingMeshGatewayVSHost = messageType{"IST0109", "ConflictingMeshGatewayVirtualServiceHosts", levelError}
	msgNoMatchingWorkloadsFound     = messageType{"IST0127", "NoMatchingWorkloadsFound", levelWarning}
	msgConflictingGatewayVSHost     = messageType{"LOOM0001", "ConflictingGatewayVirtualServiceHosts", levelWarning}
)

// message is one finding about one object.
type message struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Level   string `json:"level"`
	Object  string `json:"object"` // "VirtualService demo/reviews"
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func newMessage(t messageType, kind, namespace, name, field, format string, args ...any) message {
	return message{Code: t.code, Name: t.name, Level: t.level, Object: kind + " " + namespace + "/" + name,
		Field: field, Message: fmt.Sprintf(format, args...)}
}

func schemaError(kind, namespace, name, field, text string) message {
	return newMessage(msgSchemaValidationError, kind, namespace, name, field, "%s", text)
}
