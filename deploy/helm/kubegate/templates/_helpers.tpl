{{- define "kubegate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubegate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubegate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "kubegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "kubegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubegate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubegate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kubegate.validate" -}}
{{- if not (has .Values.store (list "sqlite" "postgres")) -}}
{{- fail "store must be sqlite or postgres" -}}
{{- end -}}
{{- if and (eq .Values.store "sqlite") (gt (int .Values.replicaCount) 1) -}}
{{- fail "replicaCount > 1 needs store: postgres (SQLite is one file on one volume)" -}}
{{- end -}}
{{- if and (eq .Values.store "postgres") (not .Values.postgres.dsnSecret.name) -}}
{{- fail "store: postgres needs postgres.dsnSecret.name" -}}
{{- end -}}
{{- if and (eq .Values.store "postgres") (not .Values.encryptionKey.secret.name) -}}
{{- fail "store: postgres needs encryptionKey.secret.name: every replica must share the key" -}}
{{- end -}}
{{- end -}}
