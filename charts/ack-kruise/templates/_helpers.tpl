{{/*
Helpers of the chart's own templates. The version helpers (ack-kruise.kubeVersion, ack-kruise.apiVariant,
ack-kruise.compat.*), the namespace helper and the webhook helpers are generated: templates/generated/.

Object names are fixed, as OpenKruise's: the webhook configurations and CRDs are cluster-wide with fixed
names, so a cluster runs one ack-kruise release and the names need no release prefix.
*/}}

{{- define "ack-kruise.managerName" -}}kruise-controller-manager{{- end -}}
{{- define "ack-kruise.serviceAccountName" -}}kruise-manager{{- end -}}
{{- define "ack-kruise.clusterRoleName" -}}kruise-manager-role{{- end -}}
{{- define "ack-kruise.roleName" -}}kruise-manager-role{{- end -}}
{{- define "ack-kruise.leaseName" -}}kruise-manager{{- end -}}

{{/* Labels of every object the chart renders. */}}
{{- define "ack-kruise.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
{{- end -}}

{{/* The manager pods' selector: never the version, so an upgrade keeps the Deployment's selector. */}}
{{- define "ack-kruise.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end -}}

{{/* The manager image: [registry/]repository, then @digest when one is given, else :tag (the appVersion by
default). A released chart carries the registry and digest it was released with. */}}
{{- define "ack-kruise.image" -}}
{{- $image := .Values.manager.image -}}
{{- $name := $image.repository -}}
{{- with $image.registry -}}
{{- $name = printf "%s/%s" (trimSuffix "/" .) $name -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $name $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $name (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret the manager serves its webhook certificate from, for the certificate mode. */}}
{{- define "ack-kruise.certSecretName" -}}
{{- if eq .Values.webhook.certificates.mode "secret" -}}
{{- .Values.webhook.certificates.existingSecret -}}
{{- else -}}
{{- .Values.webhook.certificates.secretName -}}
{{- end -}}
{{- end -}}

{{/* Whether the manager itself patches the caBundles (self and secret modes; cert-manager's cainjector does
it in cert-manager mode). "true" or empty. */}}
{{- define "ack-kruise.managerInjectsCABundle" -}}
{{- if ne .Values.webhook.certificates.mode "cert-manager" -}}true{{- end -}}
{{- end -}}

{{/* --feature-gates value: every gate of the featureGates value, in name order (deterministic renders). */}}
{{- define "ack-kruise.featureGates" -}}
{{- $gates := list -}}
{{- range $name := keys .Values.featureGates | sortAlpha -}}
{{- $gates = append $gates (printf "%s=%t" $name (get $.Values.featureGates $name)) -}}
{{- end -}}
{{- join "," $gates -}}
{{- end -}}

{{/* The manager pods' securityContext: manager.podSecurityContext, plus seccompProfile RuntimeDefault where the
target version has the field (1.19+) and the value does not set one. */}}
{{- define "ack-kruise.podSecurityContext" -}}
{{- $context := deepCopy (default (dict) .Values.manager.podSecurityContext) -}}
{{- if and (not (hasKey $context "seccompProfile")) (include "ack-kruise.compat.podField" (list . "seccompProfile")) -}}
{{- $_ := set $context "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- end -}}
{{- with $context -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/* A container's resources (a resources value: limits and requests maps), every quantity as a string:
a number from a values file arrives as a float (cpu: 0.5 as 0.5, memory: 1073741824 as 1.073741824e+09),
written "0.5" and "1073741824". */}}
{{- define "ack-kruise.resources" -}}
{{- $resources := . -}}
{{- range $section := list "limits" "requests" -}}
{{- with get $resources $section }}
{{ $section }}:
{{- range $name, $quantity := . }}
{{- if not (kindIs "invalid" $quantity) }}
{{- $text := toString $quantity }}
{{- if and (kindIs "float64" $quantity) (eq (floor $quantity) $quantity) }}
{{- $text = toString (int64 $quantity) }}
{{- end }}
  {{ $name }}: {{ $text | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The flags of `ack-kruise manager` and `ack-kruise daemon` the chart sets, each with the value it comes
from: extraArgs may not set them (the webhook Service, the ports and the certificates follow these values). */}}
{{- define "ack-kruise.chartFlags" -}}
manager:
  --enable-leader-election: manager.leaderElection.enabled
  --lease-duration: manager.leaderElection.leaseDuration
  --webhook-port: manager.webhookPort
  --webhook-service: webhook.service.name
  --sidecarset-injection: webhook.podWebhook.sidecarSetInjection
  --cert-mode: webhook.certificates.mode
  --cert-secret: webhook.certificates.secretName
  --cert-validity: webhook.certificates.validity
  --cert-renew-before: webhook.certificates.renewBefore
  --health-probe-addr: manager.healthPort
  --metrics-addr: manager.metricsPort
  --rest-config-qps: manager.apiClient.qps
  --rest-config-burst: manager.apiClient.burst
  --feature-gates: featureGates
  --log-level: manager.logLevel
daemon:
  --addr: daemon.port
  --socket-file: daemon.socketFile
  --feature-gates: featureGates
  --log-level: daemon.logLevel
{{- end -}}

{{/* Seconds in a duration of the certificate values (e.g. 30d; the schema allows s, m, h and d). */}}
{{- define "ack-kruise.seconds" -}}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 -}}
{{- mul (int (regexFind "^[0-9]+" .)) (get $units (regexFind "[smhd]$" .)) -}}
{{- end -}}

{{/* DNS names of the webhook Service, as the API server calls it. */}}
{{- define "ack-kruise.webhook.dnsNames" -}}
{{- $service := include "ack-kruise.webhook.serviceName" . -}}
{{- $namespace := include "ack-kruise.namespace" . -}}
- {{ printf "%s.%s.svc" $service $namespace }}
- {{ printf "%s.%s.svc.cluster.local" $service $namespace }}
{{- end -}}

{{/*
ack-kruise.validate: refuses values that cannot work together, with a message saying what to change. Every
template of the chart's own includes it, so any render (install, upgrade, template, lint) checks them.
*/}}
{{- define "ack-kruise.validate" -}}
{{- include "ack-kruise.compat.check" . -}}
{{- $namespace := include "ack-kruise.namespace" . -}}
{{- $version := include "ack-kruise.kubeVersion" . -}}
{{- with .Values.webhook.service.namespace -}}
{{- if ne . $namespace -}}
{{- fail (printf "webhook.service.namespace is %q but the manager runs in %q: the webhook Service must be in the manager's namespace to select its pods. Leave webhook.service.namespace empty, or set namespaceOverride=%s to move the whole chart." . $namespace .) -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.webhook.certificates.mode "secret") (not .Values.webhook.certificates.existingSecret) -}}
{{- fail "webhook.certificates.mode=secret needs webhook.certificates.existingSecret: the name of a Secret in the chart's namespace with tls.crt, tls.key and ca.crt." -}}
{{- end -}}
{{- $certs := .Values.webhook.certificates -}}
{{- if and (eq $certs.mode "self") (ge (int (include "ack-kruise.seconds" $certs.renewBefore)) (int (include "ack-kruise.seconds" $certs.validity))) -}}
{{- fail (printf "webhook.certificates.renewBefore=%s is not shorter than validity=%s: every certificate would be due for renewal as soon as it is issued, and the manager would issue a new one at every check. Renew well before expiry, e.g. validity=365d renewBefore=30d." $certs.renewBefore $certs.validity) -}}
{{- end -}}
{{- if and (ne (int .Values.webhook.service.port) 443) (semverCompare "<1.15.0-0" $version) -}}
{{- fail (printf "Kubernetes %s always calls webhooks on port 443; webhook.service.port=%v needs Kubernetes 1.15 or later." $version .Values.webhook.service.port) -}}
{{- end -}}
{{- if and .Values.webhook.podWebhook.enabled (hasKey .Values.featureGates "PodWebhook") (not .Values.featureGates.PodWebhook) -}}
{{- fail "featureGates.PodWebhook=false turns the pod webhook off in the manager, but webhook.podWebhook.enabled=true still registers it: set webhook.podWebhook.enabled=false as well." -}}
{{- end -}}
{{- $m := .Values.manager -}}
{{- $ports := dict "webhookPort" $m.webhookPort "healthPort" $m.healthPort "metricsPort" $m.metricsPort -}}
{{- range $a := list "webhookPort" "healthPort" "metricsPort" -}}
{{- range $b := list "webhookPort" "healthPort" "metricsPort" -}}
{{- if and (lt $a $b) (eq (int (get $ports $a)) (int (get $ports $b))) -}}
{{- fail (printf "manager.%s and manager.%s are both %v: the manager cannot listen twice on one port. Give each its own port%s." $a $b (get $ports $a) (ternary " (with manager.hostNetwork=true they are ports of the node: pick free ones)" "" $m.hostNetwork)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $pdb := $m.podDisruptionBudget -}}
{{- if $pdb.enabled -}}
{{- $min := toString $pdb.minAvailable -}}
{{- $max := toString $pdb.maxUnavailable -}}
{{- if and (ne $min "") (ne $max "") -}}
{{- fail (printf "manager.podDisruptionBudget sets both minAvailable (%s) and maxUnavailable (%s): a PodDisruptionBudget takes one. Set the other to \"\" (--set manager.podDisruptionBudget.minAvailable=)." $min $max) -}}
{{- end -}}
{{- if and (eq $min "") (eq $max "") -}}
{{- fail "manager.podDisruptionBudget needs minAvailable or maxUnavailable (or enabled=false)." -}}
{{- end -}}
{{- if and (ne $min "") (not (hasSuffix "%" $min)) (gt (int $m.replicas) 0) (ge (int $min) (int $m.replicas)) -}}
{{- fail (printf "manager.podDisruptionBudget.minAvailable=%s with manager.replicas=%v allows no voluntary eviction: every node drain would hang on the manager. Run more replicas, lower minAvailable, or set manager.podDisruptionBudget.enabled=false." $min $m.replicas) -}}
{{- end -}}
{{- if and (ne $max "") (not (hasSuffix "%" $max)) (eq (int $max) 0) -}}
{{- fail "manager.podDisruptionBudget.maxUnavailable=0 allows no voluntary eviction: every node drain would hang on the manager. Use 1 or more, or set manager.podDisruptionBudget.enabled=false." -}}
{{- end -}}
{{- end -}}
{{- if and (eq (int $m.replicas) 0) (not $m.allowZeroReplicas) -}}
{{- fail "manager.replicas=0 runs no manager, and the webhooks fail closed: every apps.kruise.io write (and the StatefulSet, DaemonSet and SidecarSet conversion) would be refused. Run 1 or more replicas; for a manager run outside the cluster, set manager.allowZeroReplicas=true as well." -}}
{{- end -}}
{{- $flags := include "ack-kruise.chartFlags" . | fromYaml -}}
{{- $envs := dict "manager" (list "POD_NAMESPACE" "PYTHONUNBUFFERED") "daemon" (list "NODE_NAME" "PYTHONUNBUFFERED") -}}
{{- range $component := list "manager" "daemon" -}}
{{- $values := get $.Values $component -}}
{{- range $key := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" -}}
{{- if hasKey (default (dict) $values.podLabels) $key -}}
{{- fail (printf "%s.podLabels sets %s: the %s selects its pods by that label, and the chart sets it. Use another label." $component $key (ternary "Deployment" "DaemonSet" (eq $component "manager"))) -}}
{{- end -}}
{{- end -}}
{{- range $arg := default (list) $values.extraArgs -}}
{{- $flag := regexFind "^--[^=]+" $arg -}}
{{- with get (get $flags $component) $flag -}}
{{- fail (printf "%s.extraArgs sets %s, which the chart sets from %s: set that value instead." $component $flag .) -}}
{{- end -}}
{{- end -}}
{{- range $env := default (list) (index $values "extraEnvs") -}}
{{- if has $env.name (get $envs $component) -}}
{{- fail (printf "%s.extraEnvs sets %s, which the chart sets: use another name." $component $env.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $monitor := $m.metrics.serviceMonitor -}}
{{- if and $monitor.enabled (gt (int (include "ack-kruise.seconds" $monitor.scrapeTimeout)) (int (include "ack-kruise.seconds" $monitor.interval))) -}}
{{- fail (printf "manager.metrics.serviceMonitor.scrapeTimeout=%s is longer than interval=%s: Prometheus refuses such a scrape configuration. Use a timeout of at most the interval." $monitor.scrapeTimeout $monitor.interval) -}}
{{- end -}}
{{- if and (not .Values.manager.leaderElection.enabled) (gt (int .Values.manager.replicas) 1) -}}
{{- fail (printf "manager.replicas=%v with manager.leaderElection.enabled=false would run the controllers %v times at once: enable leader election or run one replica." .Values.manager.replicas .Values.manager.replicas) -}}
{{- end -}}
{{- end -}}
