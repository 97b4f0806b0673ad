{{/* Names and labels. */}}
{{- define "t2ialign.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names stay under 48 characters: KubeRay appends "-serve-svc" and cluster suffixes. */}}
{{- define "t2ialign.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "t2ialign.selectorLabels" -}}
app.kubernetes.io/name: {{ include "t2ialign.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "t2ialign.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "t2ialign.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The label every Ray pod of this release carries (NetworkPolicies select on it). */}}
{{- define "t2ialign.rayPodLabels" -}}
{{ include "t2ialign.selectorLabels" . }}
app.kubernetes.io/component: ray
{{- end }}

{{- define "t2ialign.objectStoreLabels" -}}
{{ include "t2ialign.selectorLabels" . }}
app.kubernetes.io/component: objectstore
{{- end }}

{{- define "t2ialign.apiKeysSecret" -}}
{{- .Values.apiKeys.existingSecret | default (printf "%s-api-keys" (include "t2ialign.fullname" .)) }}
{{- end }}

{{- define "t2ialign.s3Secret" -}}
{{- .Values.objectStore.credentials.existingSecret | default (printf "%s-s3" (include "t2ialign.fullname" .)) }}
{{- end }}

{{- define "t2ialign.objectStoreHost" -}}
{{- printf "%s-objectstore" (include "t2ialign.fullname" .) }}
{{- end }}

{{/* The store URL every application gets (t2ialign.store.open_store's s3:// form). */}}
{{- define "t2ialign.storeUrl" -}}
{{- $os := .Values.objectStore }}
{{- if eq $os.mode "inChart" }}
{{- printf "s3://%s?endpoint=%s:%v&secure=false" $os.bucket (include "t2ialign.objectStoreHost" .) $os.inChart.port }}
{{- else if eq $os.mode "external" }}
{{- if not $os.external.endpoint }}
{{- fail "objectStore.external.endpoint is empty; give host:port of your S3 endpoint, or use objectStore.mode=inChart" }}
{{- end }}
{{- if contains "://" $os.external.endpoint }}
{{- fail "objectStore.external.endpoint must be host:port without a scheme; set objectStore.external.secure for https" }}
{{- end }}
{{- printf "s3://%s?endpoint=%s&secure=%t" $os.bucket $os.external.endpoint $os.external.secure }}
{{- with $os.external.region }}{{ printf "&region=%s" . }}{{ end }}
{{- else }}
{{- fail (printf "objectStore.mode %q is unknown; use inChart or external" $os.mode) }}
{{- end }}
{{- end }}

{{/* The files/applications.yaml the package writes (serving/serve_config.py). */}}
{{- define "t2ialign.generated" -}}
{{- .Files.Get "files/applications.yaml" }}
{{- end }}

{{/* Image of a group: t2ialign.image (dict "root" $ "group" $group). */}}
{{- define "t2ialign.image" -}}
{{- $img := merge (deepCopy (.group.image | default dict)) .root.Values.image }}
{{- $tag := $img.tag | default (printf "%s-%s" .root.Chart.AppVersion (.group.imageVariant | default "cpu")) }}
{{- printf "%s:%s" $img.repository $tag }}
{{- end }}

{{- define "t2ialign.imagePullPolicy" -}}
{{- (merge (deepCopy (.group.image | default dict)) .root.Values.image).pullPolicy }}
{{- end }}
