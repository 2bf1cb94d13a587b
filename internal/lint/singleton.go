package lint

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// A data store run as one instance (a Redis, a database, a broker), or a
// controller that must run once, is not a stateless service short of
// replicas: a second replica would be a second, independent store that
// clients split their data across, or a second leader. Its hazard is the
// rollout's: a surge starts the new instance beside the old one, behind the
// same Service, and data kept in the pod goes with the old pod. The
// manifest shows such a workload by what it runs and keeps, and the rules
// below give it the advice that fits: Recreate or a StatefulSet, a claim,
// no surge.

func singletonRules() []Rule {
	return []Rule{
		{ID: "singleton-surge", Severity: Error, check: checkSingletonSurge,
			Summary: "a one-replica data store, stateful pod or controller run once (by its image, data port, volume or leader-election flag) does not roll with a surge, which starts a second instance beside the first"},
		{ID: "singleton-ephemeral", Severity: Warning, check: checkSingletonEphemeral,
			Summary: "a one-replica data store keeps its data on a PersistentVolumeClaim, not in the pod, where every rollout loses it"},
	}
}

// storeImages are image names (the last path element, without tag) of
// stores whose single instance holds the data.
func storeImages() []string {
	return []string{
		"redis", "redis-stack-server", "valkey", "keydb", "postgres", "postgresql", "postgis", "mysql", "mariadb", "percona-server",
		"mongo", "mongodb", "kafka", "cp-kafka", "rabbitmq", "zookeeper", "cp-zookeeper", "etcd", "cassandra",
		"elasticsearch", "opensearch", "influxdb", "clickhouse-server", "nats", "minio", "couchdb", "neo4j",
	}
}

// storePorts are the well-known ports of those stores.
func storePorts() map[int32]string {
	return map[int32]string{
		6379: "Redis", 5432: "PostgreSQL", 3306: "MySQL", 27017: "MongoDB", 9092: "Kafka", 5672: "AMQP",
		2181: "ZooKeeper", 9042: "Cassandra", 2379: "etcd", 9200: "Elasticsearch", 8086: "InfluxDB",
		4222: "NATS", 9000: "MinIO or ClickHouse", 5984: "CouchDB", 7687: "Neo4j",
	}
}

// singleton is what the manifest shows of a one-replica workload that must
// stay one instance.
type singleton struct {
	store    string // "image redis:7.2", "port 6379 (Redis)": a data store
	leader   string // "--leader-elect=false": a controller that runs unguarded
	volume   string // "PersistentVolumeClaim data", "emptyDir data at /data": state in the pod
	recreate bool   // the Deployment stops its pod before starting the next
	claim    bool   // the data is on a PersistentVolumeClaim
	inPod    string // where data lives when it is not on a claim
}

// evidence lists what tells the workload apart from a stateless service.
func (s singleton) evidence() string {
	var out []string
	for _, e := range []string{s.store, s.leader, s.volume} {
		if e != "" {
			out = append(out, e)
		}
	}
	if s.recreate {
		out = append(out, "strategy Recreate")
	}
	return strings.Join(out, ", ")
}

// strong reports whether the workload must stay one instance whatever its
// storage: a store or an unguarded controller, rather than a pod with
// state that could move out.
func (s singleton) strong() bool { return s.store != "" || s.leader != "" }

// imageName is an image reference's last path element, without tag or
// digest: docker.io/bitnami/redis:7.2@sha256:... is redis.
func imageName(image string) string {
	name, _, _ := strings.Cut(image, "@")
	name = name[strings.LastIndex(name, "/")+1:]
	name, _, _ = strings.Cut(name, ":")
	return name
}

// leaderElection reads a leader-election flag from the container's command
// and args: set reports whether there is one, on whether it is enabled.
func leaderElection(c *corev1.Container) (flag string, on, set bool) {
	for _, a := range slices.Concat(c.Command, c.Args) {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "leader-elect" && name != "leader-election" && name != "enable-leader-election") {
			continue
		}
		return a, !hasVal || val == "true" || val == "1", true
	}
	return "", false, false
}

// dataMount is an emptyDir that, by its name or mount path, holds data
// rather than scratch files.
func dataMount(w *workload) (string, bool) {
	for _, v := range w.spec().Volumes {
		if v.EmptyDir == nil {
			continue
		}
		for _, c := range w.containers() {
			for _, m := range c.VolumeMounts {
				if m.Name != v.Name {
					continue
				}
				p := strings.ToLower(m.MountPath)
				n := strings.ToLower(v.Name)
				if strings.HasPrefix(p, "/var/lib/") || p == "/data" || strings.HasPrefix(p, "/data/") || strings.Contains(n, "data") || strings.Contains(n, "storage") || strings.Contains(n, "persist") {
					return fmt.Sprintf("emptyDir %s at %s", v.Name, m.MountPath), true
				}
			}
		}
	}
	return "", false
}

// singletonOf returns what shows w to be a one-instance workload, or false
// for a workload with replicas to spare, an autoscaler, or no such sign.
func (ix *index) singletonOf(w *workload) (singleton, bool) {
	if !w.scalable() || deref(w.replicas, 1) != 1 {
		return singleton{}, false
	}
	if _, ok := ix.hpaFor(w); ok {
		return singleton{}, false
	}
	var s singleton
	ports := storePorts()
	for _, c := range w.containers() {
		if s.store == "" && slices.Contains(storeImages(), imageName(c.Image)) {
			s.store = "image " + c.Image
		}
		for _, p := range c.Ports {
			if what, ok := ports[p.ContainerPort]; ok && s.store == "" {
				s.store = fmt.Sprintf("port %d (%s)", p.ContainerPort, what)
			}
		}
		if flag, on, set := leaderElection(c); set && !on && s.leader == "" {
			s.leader = flag
		}
	}
	for _, v := range w.spec().Volumes {
		if v.PersistentVolumeClaim != nil {
			s.volume, s.claim = "PersistentVolumeClaim "+v.PersistentVolumeClaim.ClaimName, true
			break
		}
	}
	if w.statefulSet != nil && len(w.statefulSet.Spec.VolumeClaimTemplates) > 0 {
		s.volume, s.claim = "volumeClaimTemplate "+w.statefulSet.Spec.VolumeClaimTemplates[0].Name, true
	}
	if !s.claim {
		if d, ok := dataMount(w); ok {
			s.volume, s.inPod = d, d
		} else {
			s.inPod = "the container's filesystem"
		}
	}
	s.recreate = w.deployment != nil && !rolling(w.deployment)
	if s.store == "" && s.leader == "" && s.volume == "" && !s.recreate {
		return singleton{}, false
	}
	return s, true
}

// singletonFix is replicas-min's advice for a one-instance workload, which a
// second plain replica would harm, or "" to keep the rule's own.
func (ix *index) singletonFix(w *workload) string {
	s, ok := ix.singletonOf(w)
	switch {
	case !ok:
		return ""
	case s.store != "":
		return fmt.Sprintf("keep one replica unless the store runs its own replication (its operator, or a StatefulSet set up as a cluster): a second plain replica (%s) is a second, independent store, and clients would split their data across the two; for the outage, keep restarts short (a claim that reattaches, Recreate)", s.store)
	case s.leader != "":
		return fmt.Sprintf("turn leader election on (%s=true), then run 2 replicas: one leads and the other stands by; a second replica without it is a second leader", strings.Split(s.leader, "=")[0])
	case len(ix.rwoClaims(w)) > 0:
		return "" // replicas-min's own advice on ReadWriteOnce claims fits
	}
	return fmt.Sprintf("the pod shows it keeps state or must not run beside its replacement (%s): move the state out (a database, or a StatefulSet with a volume per pod) before running at least 2 replicas, since a second replica would share or split it", s.evidence())
}

func checkSingletonSurge(ix *index, e *emitter) {
	for _, d := range ix.deployments() {
		s, ok := ix.singletonOf(d.w)
		if !ok || !rolling(d.v) || len(ix.rwoClaims(d.w)) > 0 {
			continue // not one, Recreate, or rwo-rolling's deadlock
		}
		surge, _, err := fenceposts(d.v, 1)
		if err != nil || surge == 0 {
			continue
		}
		var what string
		switch {
		case s.store != "":
			what = "it starts a second, separate store beside the first while the first still serves, so for a while clients write to either"
			if len(ix.servicesFor(d.w)) > 0 {
				what = strings.Replace(what, "beside the first", "behind the same Service", 1)
			}
			if !s.claim {
				what += ", and the new one starts empty: the data in " + s.inPod + " goes with the old pod"
			}
		case s.leader != "":
			what = "for a while two instances run, and with leader election off each acts as the only one"
		case s.claim:
			what = fmt.Sprintf("the new pod starts beside the old one on %s, and two instances write the same files", s.volume)
		default:
			what = fmt.Sprintf("the new pod starts beside the old one with an empty %s, while the old one still serves with the data", s.inPod)
		}
		fix := "set strategy type: Recreate, so the old pod stops before the new one starts, or run it as a StatefulSet, which replaces its pod in place"
		if !s.claim && (s.store != "" || s.volume != "") {
			fix += "; keep its data on a PersistentVolumeClaim"
		}
		e.addf(d.w.obj, "spec.strategy", fix,
			"one instance (%s) rolls with a surge of %d: %s", s.evidence(), surge, what)
	}
}

func checkSingletonEphemeral(ix *index, e *emitter) {
	for _, w := range ix.workloads {
		s, ok := ix.singletonOf(w)
		if !ok || s.claim || (s.store == "" && s.volume == "") {
			continue
		}
		field := w.path("volumes")
		fix := "keep the data on a PersistentVolumeClaim mounted at its data directory (in a StatefulSet, volumeClaimTemplates), with strategy Recreate for a Deployment; a cache that may start cold can stay as it is"
		e.addf(w.obj, field, fix,
			"one instance (%s) keeps its data in %s: every rollout, eviction or node loss starts it empty", s.evidence(), s.inPod)
	}
}

// leaderElected names the leader-election flag that is on in w's pods, if
// any: extra replicas of such a controller wait for its lease and do not
// fight, so two replicas are the fix, not the harm.
func leaderElected(w *workload) string {
	for _, c := range w.containers() {
		if flag, on, set := leaderElection(c); set && on {
			return flag
		}
	}
	return ""
}
