{{/* The chart's name, or nameOverride. */}}
{{- define "loom-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name, used for every object (cluster-scoped ones too, so two releases
never collide): fullnameOverride, else the release name when it already contains the
chart's name, else <release>-<chart>.
*/}}
{{- define "loom-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "loom-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the operator's pods; never change them (Deployment selectors are immutable). */}}
{{- define "loom-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "loom-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "loom-operator.labels" -}}
helm.sh/chart: {{ include "loom-operator.chart" . }}
{{ include "loom-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: loom
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "loom-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "loom-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "loom-operator.image" -}}
{{- $repository := .Values.image.repository }}
{{- with trimSuffix "/" .Values.imageRegistry }}
{{- /* As the operator's values.QualifyImage: a repository that names a registry keeps it. */}}
{{- $first := splitList "/" $repository | first }}
{{- if not (and (contains "/" $repository) (or (contains "." $first) (contains ":" $first) (eq $first "localhost"))) }}
{{- $repository = printf "%s/%s" . $repository }}
{{- end }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}
