{{- define "gw.selectorLabels" -}}
app.kubernetes.io/name: loom-gateway
app.kubernetes.io/instance: {{ .Values.name | quote }}
{{- end -}}

{{- define "gw.labels" -}}
{{ include "gw.selectorLabels" . }}
app.kubernetes.io/component: {{ .Values.type | lower }}-gateway
app.kubernetes.io/part-of: loom
istio.io/rev: {{ .Values.revision | default "default" | quote }}
{{- end -}}
