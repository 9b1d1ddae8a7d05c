{{- define "cp.name" -}}
{{ .Values.name }}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace so that meshes in two namespaces do not collide. */}}
{{- define "cp.clusterName" -}}
{{ include "cp.name" . }}-{{ .Release.Namespace }}
{{- end -}}

{{- define "cp.selectorLabels" -}}
app.kubernetes.io/name: loom-control-plane
app.kubernetes.io/instance: {{ include "cp.name" . }}
istio.io/rev: {{ .Values.revision | default "default" | quote }}
{{- end -}}

{{- define "cp.labels" -}}
{{ include "cp.selectorLabels" . }}
app.kubernetes.io/component: control-plane
app.kubernetes.io/version: {{ .Values.version | quote }}
app.kubernetes.io/part-of: loom
{{- end -}}

{{/* The mesh config file the control plane reads; the Deployment's checksum of it rolls the pods when it changes. */}}
{{- define "cp.meshConfig" -}}
{{ toYaml .Values.meshConfig }}
{{- end -}}
