{{- define "knowhere.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "knowhere.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: knowhere
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "slack") */}}
{{- define "knowhere.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "knowhere.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Variables from the Secret, for the keys configured: (list $ (list (list "ENV" "keyName") …)) */}}
{{- define "knowhere.secretEnv" -}}
{{- $root := index . 0 -}}
{{- range $pair := index . 1 }}
{{- $key := index $root.Values.secret.keys (index $pair 1) }}
{{- if $key }}
- name: {{ index $pair 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.secret.name }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* What every Knowhere container reads: the ConfigMap, and from the Secret the shared
     services' credentials plus `extra` (list of (list "ENV" "keyName")): (dict "root" $ "extra" …) */}}
{{- define "knowhere.env" -}}
{{- $root := .root -}}
{{- $database := required "secret.keys.databaseUrl is required: every pod shares one PostgreSQL database" $root.Values.secret.keys.databaseUrl -}}
{{- $shared := list (list "KNOWHERE_DATABASE_URL" "databaseUrl") (list "KNOWHERE_REDIS_URL" "redisUrl") (list "KNOWHERE_WEAVIATE_API_KEY" "weaviateApiKey") (list "KNOWHERE_LLM_API_KEY" "llmApiKey") -}}
envFrom:
  - configMapRef:
      name: {{ include "knowhere.fullname" $root }}
env:
  {{- include "knowhere.secretEnv" (list $root (concat $shared (.extra | default list))) | trim | nindent 2 }}
{{- end -}}

{{- define "knowhere.podSpec" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
