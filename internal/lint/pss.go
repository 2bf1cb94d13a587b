package lint

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// A namespace that enforces the "restricted" Pod Security Standard rejects
// non-conforming pods at creation: the ReplicaSet cannot create them and the
// rollout stalls with no new pod. Checking the whole standard here, rather
// than the subset other linters check, is what makes it safe to enforce.
func pssRules() []Rule {
	return []Rule{
		{ID: "pss-restricted", Severity: Error, check: checkPSSRestricted,
			Summary: "pods meet the restricted Pod Security Standard: non-root, no privilege escalation, seccomp, capabilities dropped, no host namespaces or host volumes"},
		{ID: "read-only-root-fs", Severity: Warning, check: checkReadOnlyRootFS, Optional: true,
			Summary: "containers run with readOnlyRootFilesystem: true (with an emptyDir where they must write)"},
		{ID: "service-account-missing", Severity: Error, check: checkServiceAccountMissing,
			Summary: "the service account a pod names is in the input, when the input declares service accounts"},
		{ID: "service-account-token", Severity: Warning, check: checkServiceAccountToken,
			Summary: "pods that do not call the API server do not mount a service account token"},
	}
}

const restrictedFix = "set securityContext {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}} on the pod and {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}} on every container"

// restrictedVolume reports whether the restricted standard allows a volume.
func restrictedVolume(v corev1.Volume) bool {
	s := v.VolumeSource
	return s.ConfigMap != nil || s.CSI != nil || s.DownwardAPI != nil || s.EmptyDir != nil ||
		s.Ephemeral != nil || s.PersistentVolumeClaim != nil || s.Projected != nil || s.Secret != nil
}

// containerViolations lists what keeps one container from the restricted
// standard, with the pod's securityContext as the fallback for the fields the
// standard lets the pod set.
func containerViolations(pod *corev1.PodSecurityContext, c *corev1.Container) []string {
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	var v []string
	if deref(sc.Privileged, false) {
		v = append(v, "privileged is true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		v = append(v, "allowPrivilegeEscalation is not false")
	}
	nonRoot := pod.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if !deref(nonRoot, false) {
		v = append(v, "runAsNonRoot is not true")
	}
	user := pod.RunAsUser
	if sc.RunAsUser != nil {
		user = sc.RunAsUser
	}
	if user != nil && *user == 0 {
		v = append(v, "runAsUser is 0 (root)")
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		v = append(v, "seccompProfile.type is not RuntimeDefault or Localhost")
	}
	var drop, add []corev1.Capability
	if sc.Capabilities != nil {
		drop, add = sc.Capabilities.Drop, sc.Capabilities.Add
	}
	if !slices.Contains(drop, "ALL") {
		v = append(v, "capabilities.drop does not contain ALL")
	}
	for _, a := range add {
		if a != "NET_BIND_SERVICE" {
			v = append(v, fmt.Sprintf("capabilities.add has %s (only NET_BIND_SERVICE is allowed)", a))
		}
	}
	for _, p := range c.Ports {
		if p.HostPort != 0 {
			v = append(v, fmt.Sprintf("port %d uses hostPort %d", p.ContainerPort, p.HostPort))
		}
	}
	return v
}

func checkPSSRestricted(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		spec := w.spec()
		var host []string
		for _, h := range []struct {
			name string
			on   bool
		}{{"hostNetwork", spec.HostNetwork}, {"hostPID", spec.HostPID}, {"hostIPC", spec.HostIPC}} {
			if h.on {
				host = append(host, h.name)
			}
		}
		var hostVolumes []string
		for _, v := range spec.Volumes {
			if !restrictedVolume(v) {
				hostVolumes = append(hostVolumes, v.Name)
			}
		}
		if len(host)+len(hostVolumes) > 0 {
			// A pod that reaches into the node (an agent, a CNI or CSI
			// driver) cannot meet the standard by design: one finding says
			// so, instead of one per field that follows from it.
			var what []string
			if len(host) > 0 {
				what = append(what, "it shares the node's "+strings.Join(host, ", "))
			}
			if len(hostVolumes) > 0 {
				what = append(what, "it mounts host volumes (hostPath and the like): "+strings.Join(hostVolumes, ", "))
			}
			for _, ac := range w.allContainers() {
				if v := containerViolations(spec.SecurityContext, ac.c); len(v) > 0 {
					what = append(what, "in container "+ac.c.Name+", "+strings.Join(v, ", "))
				}
			}
			e.addf(w.obj, w.podPath, "if it is a node agent, run it in a namespace labeled pod-security.kubernetes.io/enforce: privileged; if not, remove the host access ("+restrictedFix+")",
				"the pod does not meet the restricted Pod Security Standard, by design if it is a node agent: %s; a namespace that enforces the standard rejects the pods and the rollout stalls", strings.Join(what, "; "))
			continue
		}
		for _, ac := range w.allContainers() {
			if v := containerViolations(spec.SecurityContext, ac.c); len(v) > 0 {
				e.addf(w.obj, ac.field+".securityContext", restrictedFix,
					"container %s does not meet the restricted Pod Security Standard: %s; a namespace that enforces it rejects the pods and the rollout stalls", ac.c.Name, strings.Join(v, "; "))
			}
		}
	}
}

func checkReadOnlyRootFS(ix *index, e *emitter) {
	ix.forEachContainer(func(w *workload, c *corev1.Container) {
		if c.SecurityContext != nil && deref(c.SecurityContext.ReadOnlyRootFilesystem, false) {
			return
		}
		e.addf(w.obj, w.containerPath(c)+".securityContext.readOnlyRootFilesystem", "set readOnlyRootFilesystem: true and mount an emptyDir at the paths the app writes (/tmp)",
			"container %s can write to its image's filesystem: an attacker can too, and pods of the same version drift apart", c.Name)
	})
}

func checkServiceAccountToken(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		spec := w.spec()
		if ix.boundByRBAC(w) {
			continue // a role is bound to its account: the app calls the API and needs the token
		}
		if spec.AutomountServiceAccountToken != nil {
			if !*spec.AutomountServiceAccountToken {
				continue
			}
		} else if sa := ix.serviceAccount(w.obj, spec.ServiceAccountName); sa != nil && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
			continue
		}
		e.add(w.obj, w.path("automountServiceAccountToken"),
			"the pod mounts a service account token it most likely never uses: anyone who gets into the container can call the API server with it",
			"set automountServiceAccountToken: false, unless the app calls the Kubernetes API")
	}
}

// checkServiceAccountMissing stays quiet when the input declares no service
// account at all: they are then managed elsewhere.
func checkServiceAccountMissing(ix *index, e *emitter) {
	if len(ix.serviceAccts) == 0 {
		return
	}
	for _, w := range ix.workloads {
		name := w.spec().ServiceAccountName
		if name == "" {
			name = w.spec().DeprecatedServiceAccount
		}
		if name == "" || name == "default" || ix.serviceAccount(w.obj, name) != nil {
			continue
		}
		e.addf(w.obj, w.path("serviceAccountName"), "add the ServiceAccount to the input, or name one it declares (check kustomize name prefixes and suffixes)",
			"ServiceAccount %s is not in %s of the input, which declares other service accounts: the API server refuses to create the pods (serviceaccount not found), so the rollout stalls with no new pod", name, namespaceName(w.obj))
	}
}

// boundByRBAC reports whether a RoleBinding or ClusterRoleBinding of the
// input grants something to the pod's service account.
func (ix *index) boundByRBAC(w *workload) bool {
	name := cmp.Or(w.spec().ServiceAccountName, w.spec().DeprecatedServiceAccount, "default")
	for _, b := range ix.bindings {
		for _, s := range b.subjects {
			ns := s.Namespace
			if ns == "" && b.obj.Kind == "RoleBinding" {
				ns = b.obj.Namespace // a RoleBinding's subjects default to its own namespace
			}
			if s.Kind == "ServiceAccount" && s.Name == name && ns == w.obj.Namespace {
				return true
			}
		}
	}
	return false
}

// serviceAccount finds a ServiceAccount of the input; an empty name is the
// namespace's default account.
func (ix *index) serviceAccount(o *Object, name string) *corev1.ServiceAccount {
	if name == "" {
		name = "default"
	}
	for _, sa := range ix.serviceAccts {
		if sa.obj.Name == name && sameNamespace(sa.obj, o) {
			return sa.v
		}
	}
	return nil
}
