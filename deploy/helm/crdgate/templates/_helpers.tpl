{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "crdgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "crdgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "crdgate.labels" -}}
{{ include "crdgate.selectorLabels" . }}
app.kubernetes.io/part-of: crdgate
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
The label that aggregates a ClusterRole into this release's RELEASE-crdgate-custom-resources:
the release's name, a valid label value as it is. The release's ClusterRoles and bindings are
cluster-scoped and named after the release, so one release name is one release in a cluster, and
its name alone tells it apart. The kustomize base uses the value "crdgate".
*/}}
{{- define "crdgate.aggregationLabels" -}}
crdgate.io/aggregate-to-release: {{ .Release.Name | quote }}
{{- end -}}

{{- define "crdgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "crdgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The API port inside the pod; the chart passes it to the gateway with --port. */}}
{{- define "crdgate.apiPort" -}}4000{{- end -}}

{{/*
The tenants setting, checked: "none", or a map naming exactly one Secret or ConfigMap. Anything
else stops the rendering with what to set, because the gateway refuses to serve a real cluster
without a tenants file.
*/}}
{{- define "crdgate.tenants" -}}
{{- $t := .Values.tenants -}}
{{- $help := "set tenants.secretName or tenants.configMapName (an existing Secret or ConfigMap holding the tenants file), or tenants=none to run without authentication" -}}
{{- if kindIs "string" $t -}}
{{- if ne $t "none" -}}{{- fail (printf "crdgate: tenants is %q; %s" $t $help) -}}{{- end -}}
none
{{- else if kindIs "map" $t -}}
{{- if and $t.secretName $t.configMapName -}}
{{- fail "crdgate: tenants.secretName and tenants.configMapName are both set; choose one" -}}
{{- else if $t.secretName -}}
secret
{{- else if $t.configMapName -}}
configMap
{{- else -}}
{{- fail (printf "crdgate: no tenants file: %s" $help) -}}
{{- end -}}
{{- else -}}
{{- fail (printf "crdgate: no tenants file: %s" $help) -}}
{{- end -}}
{{- end -}}

{{- define "crdgate.tenantsKey" -}}
{{- default "tenants.yaml" .Values.tenants.key -}}
{{- end -}}

{{/* Where the tenants file is mounted in the pod. */}}
{{- define "crdgate.tenantsDir" -}}/etc/crdgate/tenants{{- end -}}

{{- define "crdgate.redisSecretName" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.existingSecret -}}
{{- else -}}
{{- printf "%s-redis" (include "crdgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "crdgate.redisSecretKey" -}}
{{- if .Values.redis.existingSecret -}}{{ .Values.redis.existingSecretKey }}{{- else -}}redis-url{{- end -}}
{{- end -}}

{{/*
A value as the gateway reads it. Numbers in a values file reach templates as float64, which
toString writes in exponent form from a million up (8388608 → "8.388608e+06"), a value the
gateway refuses: whole numbers are written as integers, anything else as it is.
*/}}
{{- define "crdgate.flagValue" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/*
The pod's grace period must cover the drain after SIGTERM: shutdownDelayMs, then up to the
gateway's --shutdown-timeout (flags.shutdown-timeout, else its default of 25 s) for the requests
still running. A shorter one has the kubelet kill the gateway in the middle of them.
*/}}
{{- define "crdgate.checkGracePeriod" -}}
{{- $timeoutMs := int64 (index .Values.flags "shutdown-timeout" | default 25000) -}}
{{- $delayMs := int64 .Values.shutdownDelayMs -}}
{{- $graceMs := mul (int64 .Values.terminationGracePeriodSeconds) 1000 -}}
{{- if gt (add $delayMs $timeoutMs) $graceMs -}}
{{- fail (printf "crdgate: terminationGracePeriodSeconds %d does not cover shutdownDelayMs (%d) plus the gateway's shutdown-timeout (%d ms); set it to at least %d, or shorten them" (int64 .Values.terminationGracePeriodSeconds) $delayMs $timeoutMs (div (add $delayMs $timeoutMs 999) 1000)) -}}
{{- end -}}
{{- end -}}

{{/*
extraArgs and extraEnv must not set what the chart sets or checks itself: a flag given twice is
the last one's (the chart's guards would not see it), the grace period is checked against
flags.shutdown-timeout, and the Redis URL with its password belongs in a Secret (redis.*).
*/}}
{{- define "crdgate.checkExtra" -}}
{{- $managed := list "host" "port" "local-cluster" "tenants" "metrics-port" "metrics-host" "redis-url" "shutdown-delay" "config" "shutdown-timeout" -}}
{{- range $arg := .Values.extraArgs -}}
{{- if hasPrefix "-p" (toString $arg) -}}
{{- fail "crdgate: extraArgs sets -p (--port), which the chart sets itself; use the chart's own value for it (see values.yaml)" -}}
{{- end -}}
{{- range $name := $managed -}}
{{- if or (eq (toString $arg) (printf "--%s" $name)) (hasPrefix (printf "--%s=" $name) (toString $arg)) -}}
{{- fail (printf "crdgate: extraArgs sets --%s, which the chart sets or checks itself; use %s" $name (ternary "flags.shutdown-timeout" "the chart's own value for it (see values.yaml)" (eq $name "shutdown-timeout"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $env := .Values.extraEnv -}}
{{- range $name := $managed -}}
{{- if eq (toString $env.name) (printf "CRDGATE_%s" ($name | upper | replace "-" "_")) -}}
{{- fail (printf "crdgate: extraEnv sets %s, which the chart sets or checks itself; use %s" $env.name (ternary "flags.shutdown-timeout" "the chart's own value for it (see values.yaml)" (eq $name "shutdown-timeout"))) -}}
{{- end -}}
{{- end -}}
{{- if eq (toString $env.name) "PORT" -}}
{{- fail "crdgate: extraEnv sets PORT (--port), which the chart sets itself; use the chart's own value for it (see values.yaml)" -}}
{{- end -}}
{{- if and (eq (toString $env.name) "NODE_OPTIONS") $.Values.nodeOptions -}}
{{- fail "crdgate: extraEnv sets NODE_OPTIONS, which the chart sets from nodeOptions; put the options there" -}}
{{- end -}}
{{- end -}}
{{- end -}}
