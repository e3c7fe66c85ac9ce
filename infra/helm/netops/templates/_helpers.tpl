{{- define "netops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "netops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "netops.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "netops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "netops.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "netops.secretName" -}}
{{- default (include "netops.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "netops.auditKeySecret" -}}
{{- default (printf "%s-audit-key" (include "netops.fullname" .)) .Values.auditKey.existingSecret -}}
{{- end -}}

{{/* netops.yaml: values.config plus what the chart decides (listen address, data dir, in-chart vLLM/Qdrant). */}}
{{- define "netops.config" -}}
{{- $c := deepCopy .Values.config -}}
{{- $fullname := include "netops.fullname" . -}}
{{- $_ := set $c "data_dir" "/var/lib/netops" -}}
{{- $_ = set $c "server" (merge (dict "host" "0.0.0.0" "port" (int .Values.port)) (default dict $c.server)) -}}
{{- $_ = set $c "model_server" (merge (dict "enabled" false) (default dict $c.model_server)) -}}
{{- $_ = set $c "guardrails" (merge (default dict $c.guardrails) (dict "policies_dir" "/app/infra/policies")) -}}
{{- $_ = set $c "tools" (merge (default dict $c.tools) (dict "inventory_dir" "/app/infra/inventory")) -}}
{{- $retrieval := merge (default dict $c.retrieval) (dict "sources" (list "/app/infra/demo/runbooks")) -}}
{{- if .Values.qdrant.enabled -}}
{{- $_ = set $retrieval "qdrant_url" (printf "http://%s-qdrant:6333" $fullname) -}}
{{- end -}}
{{- $_ = set $c "retrieval" $retrieval -}}
{{- if .Values.vllm.enabled -}}
{{- $dep := dict "name" "vllm" "provider" "hosted_vllm" "model" .Values.vllm.servedModelName "base_url" (printf "http://%s-vllm:8000/v1" $fullname) "context_window" (int .Values.vllm.contextWindow) "metrics_url" (printf "http://%s-vllm:8000/metrics" $fullname) -}}
{{- $_ = set $c "deployments" (append (default list $c.deployments) $dep) -}}
{{- if not $c.routes -}}
{{- $_ = set $c "routes" (list (dict "name" "netops-assistant" "deployments" (list "vllm") "max_tokens" 512 "temperature" 0.2)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The gateway's workload kind: a StatefulSet when its data dir is persistent (a volume per pod). */}}
{{- define "netops.gatewayKind" -}}
{{- if .Values.persistence.enabled }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}
