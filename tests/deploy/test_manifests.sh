#!/usr/bin/env bash
# deploy/: kubectl (Debian's kubernetes-client, 1.20) accepts the manifests
# in a client-side dry run, and they say what kdp needs.
#
# kubectl 1.20 asks the server for API discovery even with
# --dry-run=client: it is pointed at the fake apiserver
# (tests/k8s/fake_apiserver.py on 127.0.0.1), which serves /api, /apis and
# the group versions. Schema validation would need the server's OpenAPI
# document (/openapi/v2), which the fake does not have: --validate=false;
# the structure is checked here instead, from kubectl's own rendering (-o json).
#
#   tests/deploy/test_manifests.sh     (KDP_BUILD=<dir>, default build;
#                                       KDP_KUBECTL=<kubectl> to choose one)
#
# Prints PASS/FAIL per check; the last line is "N passed, M failed".
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KDP_BUILD=${KDP_BUILD:-build}
[[ $KDP_BUILD == /* ]] || KDP_BUILD=$REPO/$KDP_BUILD
DIR=$(mktemp -d /tmp/kdp-deploy-test.XXXXXX)
PASSED=0
FAILED=0
API_PID=''

pass() { PASSED=$((PASSED + 1)); printf 'PASS  %s\n' "$1"; shift; local l; for l in "$@"; do printf '        %s\n' "$l"; done; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL  %s\n' "$1"; shift; local l; for l in "$@"; do printf '        %s\n' "$l"; done; }
verdict() { local ok=$1; shift; if [[ $ok == 0 ]]; then pass "$@"; else fail "$@"; fi; }

cleanup() {
	if [[ -n $API_PID ]]; then
		kill "$API_PID" 2>/dev/null
		wait "$API_PID" 2>/dev/null
	fi
	rm -rf "$DIR"
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	exit $((FAILED == 0 ? 0 : 1))
}
trap cleanup EXIT

# Debian's kubectl: the kubernetes-client package, or unpacked by
# tools/install-deps.sh when another package owns /usr/bin/kubectl.
KUBECTL=${KDP_KUBECTL:-}
if [[ -z $KUBECTL ]]; then
	if [[ -x /var/cache/kdp/kubernetes-client/usr/bin/kubectl ]]; then
		KUBECTL=/var/cache/kdp/kubernetes-client/usr/bin/kubectl
	elif dpkg -S /usr/bin/kubectl 2>/dev/null | grep -q '^kubernetes-client:'; then
		KUBECTL=/usr/bin/kubectl
	fi
fi
if [[ -z $KUBECTL || ! -x $KUBECTL ]]; then
	fail "setup: Debian's kubectl not found (tools/install-deps.sh installs kubernetes-client)"
	exit 1
fi
ver=$("$KUBECTL" version --client --short 2>/dev/null || "$KUBECTL" version --client 2>&1 | head -1)

/usr/bin/python3 "$REPO/tests/k8s/fake_apiserver.py" --port-file "$DIR/port" >"$DIR/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 50); do [[ -s $DIR/port ]] && break; sleep 0.1; done
cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:$(cat "$DIR/port")
users:
- name: test
  user: {}
contexts:
- name: fake
  context: {cluster: fake, user: test}
current-context: fake
EOF
kc() { "$KUBECTL" --kubeconfig "$DIR/kubeconfig" --request-timeout=10s "$@"; }

out=$(kc apply --dry-run=client --validate=false -f "$REPO/deploy/" 2>&1)
rc=$?
n=$(grep -c 'created (dry run)' <<<"$out")
[[ $rc == 0 && $n == 7 ]]
verdict $? "a. kubectl apply --dry-run=client --validate=false -f deploy/: every object accepted ($ver)" \
	"exit $rc, $n objects:" "$(tr '\n' ';' <<<"$out")"

kc apply --dry-run=client --validate=false -f "$REPO/deploy/" -o json >"$DIR/objects.json" 2>"$DIR/err"
sed "s|@NODE_NAME@|k8s-ctr|; s|@NODE_IP@|192.168.10.100|" >"$DIR/node.json" < <(/usr/bin/python3 -c '
import json, sys
for o in json.load(open(sys.argv[1]))["items"]:
    if o["kind"] == "ConfigMap":
        print(o["data"]["kdp.json.in"])' "$DIR/objects.json")
report=$(/usr/bin/python3 - "$DIR/objects.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
objs = {(o["kind"], o["metadata"]["name"]): o for o in doc["items"]}
bad = []
def need(cond, what):
    if not cond:
        bad.append(what)
# RBAC: list and watch on exactly the kinds the agent reads
cr = objs.get(("ClusterRole", "kdp-agent"), {"rules": []})
got = sorted((g, r, tuple(sorted(x["verbs"])), tuple(x.get("resourceNames", [])))
             for x in cr["rules"] for g in x["apiGroups"] for r in x["resources"])
want = sorted([("", "nodes", ("list", "watch"), ()), ("", "services", ("list", "watch"), ()),
               ("", "pods", ("list", "watch"), ()),
               ("discovery.k8s.io", "endpointslices", ("list", "watch"), ()),
               ("cilium.io", "ciliumlocalredirectpolicies", ("list", "watch"), ())])
need(got == want, "ClusterRole rules %s" % got)
role = objs.get(("Role", "kdp-agent-ip-masq-agent"), {"rules": [], "metadata": {}})
need(role["metadata"].get("namespace") == "kube-system" and
     [(x["apiGroups"], x["resources"], sorted(x["verbs"]), x.get("resourceNames")) for x in role["rules"]]
     == [([""], ["configmaps"], ["list", "watch"], ["ip-masq-agent"])], "Role for the ip-masq-agent ConfigMap")
for b in ("ClusterRoleBinding", "RoleBinding"):
    o = objs.get((b, "kdp-agent" if b == "ClusterRoleBinding" else "kdp-agent-ip-masq-agent"))
    need(o and o["subjects"] == [{"kind": "ServiceAccount", "name": "kdp", "namespace": "kube-system"}],
         b + " binds the kdp service account")
ds = objs.get(("DaemonSet", "kdp"))
need(ds is not None, "DaemonSet kdp")
spec = ds["spec"]["template"]["spec"] if ds else {}
need(spec.get("hostNetwork") is True, "hostNetwork")
need(spec.get("serviceAccountName") == "kdp", "serviceAccountName kdp")
cs = {c["name"]: c for c in spec.get("containers", [])}
need(sorted(cs) == ["kdp", "kdp-agent"], "containers kdp and kdp-agent: %s" % sorted(cs))
vols = {v["name"]: v for v in spec.get("volumes", [])}
for c in list(cs.values()) + spec.get("initContainers", []):
    for m in c.get("volumeMounts", []):
        need(m["name"] in vols, "%s mounts an undefined volume %s" % (c["name"], m["name"]))
run = [m for c in cs.values() for m in c.get("volumeMounts", []) if m["mountPath"] == "/run/kdp"]
need(len(run) == 2 and vols.get(run[0]["name"], {}).get("hostPath", {}).get("path") == "/run/kdp",
     "both containers share the socket directory /run/kdp (hostPath)")
init = spec.get("initContainers", [])
need(len(init) == 1 and {m["mountPath"] for m in init[0]["volumeMounts"]} ==
     {"/host/opt/cni/bin", "/host/etc/cni/net.d"}, "an init container installs the CNI binary and conflist")
agent = cs.get("kdp-agent", {})
need(any(e["name"] == "NODE_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
         for e in agent.get("env", [])), "kdp-agent gets NODE_NAME from spec.nodeName")
need("--kdp-socket=/run/kdp/kdp.sock" in agent.get("args", []), "kdp-agent uses /run/kdp/kdp.sock")
print("; ".join(bad) if bad else "RBAC: %d rules (%s) + the ip-masq-agent Role; DaemonSet: hostNetwork, %s, init %s, %d volumes"
      % (len(got), ", ".join(r for _, r, _, _ in got), "+".join(sorted(cs)), init[0]["name"], len(vols)))
sys.exit(1 if bad else 0)
PY
)
verdict $? "b. the rendered objects: RBAC grants list/watch on exactly nodes, services, pods, endpointslices, ciliumlocalredirectpolicies and the ip-masq-agent ConfigMap; the DaemonSet is wired as described" "$report"

out=$("$KDP_BUILD/src/kdp" --config "$DIR/node.json" --check 2>&1)
verdict $? "c. the kdp-config template, filled in for a node, passes kdp --check" "$out"

sed 's|apiVersion: apps/v1|apiVersion: apps/v9|' "$REPO/deploy/kdp-daemonset.yaml" >"$DIR/broken.yaml"
out=$(kc apply --dry-run=client --validate=false -f "$DIR/broken.yaml" 2>&1)
rc=$?
[[ $rc != 0 && $out == *"apps/v9"* ]]
verdict $? "d. a DaemonSet of an API version the server does not serve is refused (discovery is used)" \
	"exit $rc: $out"

