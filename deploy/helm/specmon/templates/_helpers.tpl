{{/*
Named templates. The "specmon.sidecar.*" ones are public: include them in your own pod spec
(templates/example-app.yaml shows how). They take this chart's context, or from a parent
chart that depends on specmon:
  (dict "Values" .Values.specmon "Release" .Release "Chart" (dict "Name" "specmon" "AppVersion" "0.1.0"))
*/}}

{{- define "specmon.name" -}}
{{- default "specmon" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "specmon.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "specmon.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "specmon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "specmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "specmon.labels" -}}
{{ include "specmon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default "0.1.0" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | default "Helm" }}
helm.sh/chart: {{ printf "specmon-%s" (.Chart.Version | default "0.1.0") }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "specmon.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | default "0.1.0") -}}
{{- end -}}

{{/* The daemon's config file: the shape of monitor/config.py */}}
{{- define "specmon.config" -}}
{{- $bind := ternary "127.0.0.1" "0.0.0.0" (eq .Values.mode "sidecar") -}}
{{- $specs := list -}}
{{- range .Values.specs -}}
{{- $entry := dict "path" (printf "/etc/specmon/specs/%s" .name) "name" .name -}}
{{- with .engine }}{{ $_ := set $entry "engine" . }}{{ end -}}
{{- $specs = append $specs $entry -}}
{{- end -}}
{{- $otlp := dict
      "http" (dict "enabled" .Values.otlp.http.enabled "host" $bind "port" .Values.otlp.http.port)
      "grpc" (dict "enabled" .Values.otlp.grpc.enabled "host" $bind "port" .Values.otlp.grpc.port)
      "max_body_bytes" .Values.otlp.maxBodyBytes -}}
{{- $sources := dict "otlp" $otlp -}}
{{- with .Values.kafka }}{{ $_ := set $sources "kafka" . }}{{ end -}}
{{- $config := dict
      "specs" $specs
      "sources" $sources
      "admin" (dict "host" "0.0.0.0" "port" .Values.admin.port)
      "checkpoint" (dict "path" "/var/lib/specmon/checkpoint" "interval" .Values.checkpoint.interval) -}}
{{- range $k, $v := .Values.config }}{{ $_ := set $config $k $v }}{{ end -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "specmon.configMapName" -}}
{{- .Values.existingConfigMap | default (include "specmon.fullname" .) -}}
{{- end -}}

{{- define "specmon.specConfigMapName" -}}
{{- $root := index . 0 -}}{{- $spec := index . 1 -}}
{{- $spec.existingConfigMap | default (printf "%s-spec-%s" (include "specmon.fullname" $root) $spec.name | trunc 63 | trimSuffix "-") -}}
{{- end -}}

{{/* Pod annotations that roll the pods when the config or a spec changes */}}
{{- define "specmon.sidecar.annotations" -}}
checksum/specmon-config: {{ include "specmon.config" . | sha256sum }}
checksum/specmon-specs: {{ toJson .Values.specs | sha256sum }}
{{- end -}}

{{/* Labels the PodMonitor selects; add them to the pods that carry the sidecar */}}
{{- define "specmon.sidecar.podLabels" -}}
specmon.io/monitor: {{ include "specmon.fullname" . }}
{{- end -}}

{{- define "specmon.container" -}}
{{- $sidecar := eq .Values.mode "sidecar" -}}
- name: specmon
  image: {{ include "specmon.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if and $sidecar .Values.sidecar.nativeSidecar }}
  restartPolicy: Always
  {{- end }}
  args: [run, /etc/specmon/config/config.yaml]
  {{- $staticMember := and (not $sidecar) .Values.kafka }}
  {{- if or .Values.extraEnv $staticMember }}
  env:
    {{- if $staticMember }}
    # static group membership: a restarted pod rejoins as itself, without a rebalance
    # of the whole group (only set with kafka: any SPECMON_KAFKA_* turns the source on)
    - name: SPECMON_KAFKA_GROUP_INSTANCE_ID
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  ports:
    - name: metrics
      containerPort: {{ .Values.admin.port }}
      protocol: TCP
    {{- if not $sidecar }}
    {{- if .Values.otlp.grpc.enabled }}
    - name: otlp-grpc
      containerPort: {{ .Values.otlp.grpc.port }}
      protocol: TCP
    {{- end }}
    {{- if .Values.otlp.http.enabled }}
    - name: otlp-http
      containerPort: {{ .Values.otlp.http.port }}
      protocol: TCP
    {{- end }}
    {{- end }}
  {{- if .Values.probes.liveness.enabled }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: metrics
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  {{- end }}
  {{- if .Values.probes.readiness.enabled }}
  readinessProbe:
    {{- if $sidecar }}
    tcpSocket:
      port: metrics
    {{- else }}
    httpGet:
      path: /readyz
      port: metrics
    {{- end }}
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: specmon-config
      mountPath: /etc/specmon/config
      readOnly: true
    {{- range .Values.specs }}
    - name: {{ printf "specmon-spec-%s" .name }}
      mountPath: {{ printf "/etc/specmon/specs/%s" .name }}
      readOnly: true
    {{- end }}
    - name: specmon-state
      mountPath: /var/lib/specmon
    - name: specmon-tmp
      mountPath: /tmp
{{- end -}}

{{/* List items for the pod's initContainers: the sidecar when nativeSidecar, else nothing */}}
{{- define "specmon.sidecar.initContainers" -}}
{{- if .Values.sidecar.nativeSidecar }}{{ include "specmon.container" . }}{{ end -}}
{{- end -}}

{{/* List items for the pod's containers: the sidecar when not nativeSidecar, else nothing */}}
{{- define "specmon.sidecar.containers" -}}
{{- if not .Values.sidecar.nativeSidecar }}{{ include "specmon.container" . }}{{ end -}}
{{- end -}}

{{/* List items for the pod's volumes */}}
{{- define "specmon.sidecar.volumes" -}}
- name: specmon-config
  configMap:
    name: {{ include "specmon.configMapName" . }}
{{- range .Values.specs }}
- name: {{ printf "specmon-spec-%s" .name }}
  configMap:
    name: {{ include "specmon.specConfigMapName" (list $ .) }}
{{- end }}
- name: specmon-state
  {{- if and (ne .Values.mode "sidecar") (eq .Values.checkpoint.volume "pvc") }}
  persistentVolumeClaim:
    claimName: {{ .Values.checkpoint.pvc.existingClaim | default (printf "%s-checkpoint" (include "specmon.fullname" .)) }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ .Values.checkpoint.sizeLimit }}
  {{- end }}
- name: specmon-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{/* Refuse combinations the schema cannot express, with what to change */}}
{{- define "specmon.validate" -}}
{{- if and (eq .Values.mode "standalone") (gt (int .Values.standalone.replicas) 1) (not .Values.kafka) -}}
{{- fail "standalone.replicas > 1 needs kafka: OTLP spans of one entity would be split between replicas (each keeps its own state); set standalone.replicas: 1 or configure kafka" -}}
{{- end -}}
{{- if and (eq .Values.mode "standalone") (eq .Values.checkpoint.volume "pvc") (gt (int .Values.standalone.replicas) 1) -}}
{{- fail "checkpoint.volume: pvc works with standalone.replicas: 1 only (one ReadWriteOnce claim); with kafka, use checkpoint.volume: emptyDir (the changelog topic holds the state)" -}}
{{- end -}}
{{- if and (eq .Values.mode "sidecar") .Values.metrics.serviceMonitor.enabled -}}
{{- fail "metrics.serviceMonitor needs mode: standalone (a sidecar has no Service); use metrics.podMonitor in sidecar mode" -}}
{{- end -}}
{{- if and (eq .Values.mode "sidecar") (eq .Values.checkpoint.volume "pvc") -}}
{{- fail "checkpoint.volume: pvc needs mode: standalone (a sidecar's pods share no claim); use emptyDir in sidecar mode" -}}
{{- end -}}
{{- if and (eq .Values.mode "sidecar") .Values.sidecar.nativeSidecar .Capabilities -}}
{{- $kube := .Values.kubeVersionOverride | default .Capabilities.KubeVersion.Version -}}
{{- if semverCompare "<1.29.0-0" $kube -}}
{{- fail (printf "sidecar.nativeSidecar needs Kubernetes >= 1.29 (initContainers with restartPolicy: Always), this cluster is %s: set sidecar.nativeSidecar: false" $kube) -}}
{{- end -}}
{{- end -}}
{{- if not .Values.specs -}}
{{- fail "specs is empty: give at least one spec, {name, files: {spec.py, mapping.yaml}} or {name, existingConfigMap}" -}}
{{- end -}}
{{- end -}}

{{- define "specmon.serviceAccountName" -}}
{{- if .Values.standalone.serviceAccount.create -}}
{{- .Values.standalone.serviceAccount.name | default (include "specmon.fullname" .) -}}
{{- else -}}
{{- .Values.standalone.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}
