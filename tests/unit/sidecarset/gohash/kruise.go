// Struct declarations copied verbatim from openkruise/kruise v1.9.0 apis/apps/v1beta1/sidecarset_types.go (Apache 2.0).
package main

type PodInjectPolicyType string
type ShareVolumePolicyType string
type TargetContainersModeType string
type SidecarContainerUpgradeType string

type SidecarContainer struct {
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Container `json:",inline"`

	// The rules that injected SidecarContainer into Pod.spec.containers,
	// not takes effect in initContainers
	// If BeforeAppContainer, the SidecarContainer will be injected in front of the pod.spec.containers
	// otherwise it will be injected into the back.
	// default BeforeAppContainerType
	PodInjectPolicy PodInjectPolicyType `json:"podInjectPolicy,omitempty"`

	// sidecarContainer upgrade strategy, include: ColdUpgrade, HotUpgrade
	UpgradeStrategy SidecarContainerUpgradeStrategy `json:"upgradeStrategy,omitempty"`

	// If ShareVolumePolicy is enabled, the sidecar container will share the other container's VolumeMounts
	// in the pod(not including the injected sidecar container).
	ShareVolumePolicy ShareVolumePolicy `json:"shareVolumePolicy,omitempty"`

	// If ShareVolumeDevicePolicy is enabled, the sidecar container will share the other container's VolumeDevices
	// in the pod(don't contain the injected sidecar container).
	// This is a pointer to ensure that the sidecarset-hash does not change if the user does not configure this field, mainly for compatibility with older versions.
	ShareVolumeDevicePolicy *ShareVolumePolicy `json:"shareVolumeDevicePolicy,omitempty"`

	// TransferEnv will transfer env info from other container
	// SourceContainerName is pod.spec.container[x].name; EnvName is pod.spec.container[x].Env.name
	TransferEnv []TransferEnvVar `json:"transferEnv,omitempty"`

	// ResourcesPolicy defines the policy for dynamically configuring container resources based on Pod specification during pod creation.
	// Validation webhook will reject pod creation request if both resourcesPolicy and resources are configured.
	// +optional
	ResourcesPolicy *ResourcesPolicy `json:"resourcesPolicy,omitempty"`
}

type ShareVolumePolicy struct {
	Type ShareVolumePolicyType `json:"type,omitempty"`
}

type TransferEnvVar struct {
	SourceContainerName string `json:"sourceContainerName,omitempty"`
	// +optional
	SourceContainerNameFrom *SourceContainerNameSource `json:"sourceContainerNameFrom,omitempty"`
	EnvName                 string                     `json:"envName,omitempty"`
	// +optional
	EnvNames []string `json:"envNames,omitempty"`
}

type SourceContainerNameSource struct {
	// Selects a field of the pod: supports metadata.name, `metadata.labels['<KEY>']`, `metadata.annotations['<KEY>']`,
	FieldRef *ObjectFieldSelector `json:"fieldRef,omitempty"`
}

type ResourcesPolicy struct {
	// TargetContainersMode defines how to aggregate resources from target containers
	// +kubebuilder:validation:Enum=sum;max
	// +kubebuilder:validation:Required
	TargetContainersMode TargetContainersModeType `json:"targetContainersMode"`

	// TargetContainersNameRegex is the regex pattern to match target container names
	// If no container names match this regex, the pod creation request will be rejected by the webhook
	// Target containers include native sidecar containers and plain containers, excluding Kruise sidecar containers
	// +optional
	// +kubebuilder:default=".*"
	TargetContainersNameRegex string `json:"targetContainersNameRegex,omitempty"`

	// ResourcesExpr defines the expressions for calculating resource values
	// +kubebuilder:validation:Required
	ResourcesExpr ResourcesExpr `json:"resourcesExpr"`
}

type ResourcesExpr struct {
	// Limits defines expressions for calculating resource limits
	// +optional
	Limits *ResourceExprLimits `json:"limits,omitempty"`

	// Requests defines expressions for calculating resource requests
	// +optional
	Requests *ResourceExprRequests `json:"requests,omitempty"`
}

type ResourceExprLimits struct {
	// CPU expression for calculating CPU limits
	// Support +, -, *, /, max(), min() and variable 'cpu'
	// Variable 'cpu' represents the sum or max of resources.limits.cpu of all matched containers
	// If matched containers don't have resources.limits configured, this field will be treated as unlimited
	// If the expression result is unlimited, sidecar container resources.limits won't be configured
	// +optional
	CPU string `json:"cpu,omitempty"`

	// Memory expression for calculating memory limits
	// Support +, -, *, /, max(), min() and variable 'memory'
	// Variable 'memory' represents the sum or max of resources.limits.memory of all matched containers
	// If matched containers don't have resources.limits configured, this field will be treated as unlimited
	// If the expression result is unlimited, sidecar container resources.limits won't be configured
	// +optional
	Memory string `json:"memory,omitempty"`
}

type ResourceExprRequests struct {
	// CPU expression for calculating CPU requests
	// Support +, -, *, /, max(), min() and variable 'cpu'
	// Variable 'cpu' represents the sum or max of resources.limits.cpu of all matched containers
	// If matched containers don't have resources.requests configured, the corresponding resource value will be treated as 0
	// +optional
	CPU string `json:"cpu,omitempty"`

	// Memory expression for calculating memory requests
	// Support +, -, *, /, max(), min() and variable 'memory'
	// Variable 'memory' represents the sum or max of resources.limits.memory of all matched containers
	// If matched containers don't have resources.requests configured, the corresponding resource value will be treated as 0
	// +optional
	Memory string `json:"memory,omitempty"`
}

type SidecarContainerUpgradeStrategy struct {
	// when sidecar container is stateless, use ColdUpgrade
	// otherwise HotUpgrade are more HotUpgrade.
	// examples for istio envoy container is suitable for HotUpgrade
	// default is ColdUpgrade
	UpgradeType SidecarContainerUpgradeType `json:"upgradeType,omitempty"`

	// when HotUpgrade, HotUpgradeEmptyImage is used to complete the hot upgrading process
	// HotUpgradeEmptyImage is consistent of sidecar container in Command, Args, Liveness probe, etc.
	// but it does no actual work.
	HotUpgradeEmptyImage string `json:"hotUpgradeEmptyImage,omitempty"`
}
