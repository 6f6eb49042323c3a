{{/* Labels shared by every object of the release. */}}
{{- define "kubeflow.labels" -}}
app.kubernetes.io/part-of: kubeflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* The componentResources value, for every component container. */}}
{{- define "kubeflow.componentResources" -}}
{{- toYaml .Values.componentResources }}
{{- end -}}
