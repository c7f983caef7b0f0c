{{/*
Names and labels shared by every template.
*/}}

{{/* The chart's short name (nameOverride lets two charts of this name coexist). */}}
{{- define "kubenova.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release name, unless it already says kubenova. */}}
{{- define "kubenova.fullname" -}}
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

{{- define "kubenova.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kubenova.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Immutable in a Deployment's selector: never add to these. */}}
{{- define "kubenova.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubenova.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubenova.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubenova.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kubenova.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The webhook's Service, Secret and configuration, named once here. */}}
{{- define "kubenova.webhook.service" -}}
{{- printf "%s-webhook" (include "kubenova.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubenova.webhook.secret" -}}
{{- printf "%s-webhook-tls" (include "kubenova.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubenova.webhook.configuration" -}}
{{- printf "%s.compute.kubenova.io" (include "kubenova.fullname" .) }}
{{- end }}

{{- define "kubenova.webhook.certDir" -}}
/etc/kubenova/webhook-certs
{{- end }}
