{{/*
serveConfigV2: the package's cluster Serve config (files/applications.yaml, written from serving/app.py)
with each application's config and scaling overridden from .Values.applications.<name>, store_url set to
the chart's object store, and disabled applications left out. tests/deploy/test_chart.py checks that the
result is what serve_config(ServeArgs) gives for the same settings.
*/}}
{{- define "t2ialign.serveConfig" -}}
{{- $generated := include "t2ialign.generated" . | fromYaml }}
{{- $serve := deepCopy $generated.serve }}
{{- $storeUrl := include "t2ialign.storeUrl" . }}
{{- $apps := list }}
{{- range $app := $serve.applications }}
{{- $values := get $.Values.applications $app.name | default dict }}
{{- if or (not (hasKey $values "enabled")) $values.enabled }}
{{- $config := $app.args.config }}
{{- if has $app.name $generated.store_url_apps }}
{{- $_ := set $config "store_url" $storeUrl }}
{{- end }}
{{- $_ := set $app.args "config" (mergeOverwrite $config (deepCopy ($values.config | default dict))) }}
{{- $_ := set $app.args "scaling" (mergeOverwrite $app.args.scaling (deepCopy ($values.scaling | default dict))) }}
{{- $apps = append $apps $app }}
{{- end }}
{{- end }}
{{- if not $apps }}
{{- fail "every application is disabled; enable at least one under .Values.applications" }}
{{- end }}
{{- $_ := set $serve "applications" $apps }}
{{- toYaml $serve }}
{{- end }}

{{/* Ports the Ray containers expose; KubeRay puts those named serve and serve-* on the serve Service. */}}
{{- define "t2ialign.servePorts" -}}
{{- $serve := (include "t2ialign.generated" . | fromYaml).serve -}}
- name: serve
  containerPort: {{ $serve.http_options.port }}
  protocol: TCP
- name: serve-grpc
  containerPort: {{ $serve.grpc_options.port }}
  protocol: TCP
{{- end }}

{{/* Environment of every Ray container: the Ray settings the package needs, the secrets, then the user's. */}}
{{- define "t2ialign.rayEnv" -}}
{{- $root := .root -}}
{{- range $name, $value := (include "t2ialign.generated" $root | fromYaml).environment }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
- name: T2IALIGN_API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "t2ialign.apiKeysSecret" $root }}
      key: {{ $root.Values.apiKeys.secretKey }}
- name: T2IALIGN_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "t2ialign.s3Secret" $root }}
      key: {{ $root.Values.objectStore.credentials.accessKeyKey }}
- name: T2IALIGN_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "t2ialign.s3Secret" $root }}
      key: {{ $root.Values.objectStore.credentials.secretKeyKey }}
{{- /* The same credentials under the names pyarrow reads, for s3:// URIs such as Ray Train's storage_path. */}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "t2ialign.s3Secret" $root }}
      key: {{ $root.Values.objectStore.credentials.accessKeyKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "t2ialign.s3Secret" $root }}
      key: {{ $root.Values.objectStore.credentials.secretKeyKey }}
{{- with $root.Values.common.containerEnv }}
{{ toYaml . }}
{{- end }}
{{- with .group.containerEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
A Ray pod template: t2ialign.rayPodTemplate (dict "root" $ "group" $group "container" "ray-head"|"ray-worker").
*/}}
{{- define "t2ialign.rayPodTemplate" -}}
{{- $root := .root }}
{{- $group := .group -}}
metadata:
  labels:
    {{- include "t2ialign.rayPodLabels" $root | nindent 4 }}
    {{- with $group.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $group.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $group.serviceAccountName }}
  serviceAccountName: {{ . }}
  {{- end }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $group.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .container }}
      image: {{ include "t2ialign.image" (dict "root" $root "group" $group) }}
      imagePullPolicy: {{ include "t2ialign.imagePullPolicy" (dict "root" $root "group" $group) }}
      ports:
        {{- if eq .container "ray-head" }}
        - {name: gcs-server, containerPort: 6379, protocol: TCP}
        - {name: dashboard, containerPort: 8265, protocol: TCP}
        - {name: client, containerPort: 10001, protocol: TCP}
        {{- end }}
        {{- include "t2ialign.servePorts" $root | trim | nindent 8 }}
      env:
        {{- include "t2ialign.rayEnv" (dict "root" $root "group" $group) | trim | nindent 8 }}
      {{- with $group.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- required (printf "resources are required for the %s container" .container) $group.resources | toYaml | nindent 8 }}
      {{- with $group.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        {{- with $group.volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if $root.Values.modelVolume.enabled }}
        - name: models
          mountPath: {{ $root.Values.modelVolume.mountPath }}
          readOnly: true
        {{- end }}
    {{- with $group.sidecarContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    {{- with $group.volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if $root.Values.modelVolume.enabled }}
    - name: models
      persistentVolumeClaim:
        claimName: {{ required "modelVolume.claimName is required when modelVolume.enabled" $root.Values.modelVolume.claimName }}
        readOnly: true
    {{- end }}
{{- end }}

{{/* A worker group: t2ialign.workerGroup (dict "root" $ "name" $name "group" $group). */}}
{{- define "t2ialign.workerGroup" -}}
- groupName: {{ .name }}
  replicas: {{ .group.replicas }}
  minReplicas: {{ .group.minReplicas }}
  maxReplicas: {{ .group.maxReplicas }}
  rayStartParams:
    {{- toYaml (.group.rayStartParams | default dict) | nindent 4 }}
  template:
    {{- include "t2ialign.rayPodTemplate" (dict "root" .root "group" .group "container" "ray-worker") | nindent 4 }}
{{- end }}
