#!/usr/bin/python3
"""The Kubernetes objects of the reference lab (DESIGN.md section 1), as the
fake apiserver serves them, and helpers to build more (the e2e tests use
them through kctl.py).

    lab_objects.py > objects.json      every object of the lab, a JSON list

The lab is dual stack (tools/lab/lib.sh: every node, pod and service has an
address of each family); KDP_LAB_IPV6=off makes these objects IPv4 only.
"""
import json
import os
import sys

IPV6 = os.environ.get("KDP_LAB_IPV6", "on") != "off"

NODES = [  # name, InternalIP, podCIDR, IPv6 InternalIP, IPv6 podCIDR
    ("k8s-ctr", "192.168.10.100", "172.20.1.0/24", "fd00:10::100", "fd00:20:0:1::/64"),
    ("k8s-w1", "192.168.10.101", "172.20.0.0/24", "fd00:10::101", "fd00:20::/64"),
]

PODS = [  # namespace, name, node, IP, labels, IPv6
    ("default", "curl-pod", "k8s-ctr", "172.20.1.236", {"app": "curl"}, "fd00:20:0:1::236"),
    ("default", "webpod-ctr", "k8s-ctr", "172.20.1.40", {"app": "webpod"}, "fd00:20:0:1::40"),
    ("default", "webpod-w1", "k8s-w1", "172.20.0.130", {"app": "webpod"}, "fd00:20::130"),
    ("kube-system", "coredns-ctr", "k8s-ctr", "172.20.1.144", {"k8s-app": "kube-dns"}, "fd00:20:0:1::144"),
    ("kube-system", "coredns-w1", "k8s-w1", "172.20.0.186", {"k8s-app": "kube-dns"}, "fd00:20::186"),
    ("kube-system", "node-local-dns-ctr", "k8s-ctr", "172.20.1.13", {"k8s-app": "node-local-dns"},
     "fd00:20:0:1::13"),
    ("kube-system", "node-local-dns-w1", "k8s-w1", "172.20.0.13", {"k8s-app": "node-local-dns"},
     "fd00:20::13"),
]

DNS_PORTS = [("dns", "UDP", 53, 53), ("dns-tcp", "TCP", 53, 53)]
SERVICES = [  # namespace, name, type, clusterIP, ports (name, proto, port, target[, nodePort]), selector
    ("default", "webpod", "NodePort", "10.96.152.212", [("http", "TCP", 80, 80, 30080)],
     {"app": "webpod"}),
    ("kube-system", "kube-dns", "ClusterIP", "10.96.0.10", DNS_PORTS, {"k8s-app": "kube-dns"}),
    ("kube-system", "kube-dns-upstream", "ClusterIP", "10.96.31.170", DNS_PORTS,
     {"k8s-app": "kube-dns"}),
]

# The IPv6 ClusterIPs of the dual-stack services (tools/lab/lib.sh).
SERVICE_IP6 = {"default/webpod": "fd00:96::98d4", "kube-system/kube-dns": "fd00:96::a",
               "kube-system/kube-dns-upstream": "fd00:96::1faa"}

IPMASQ_CONFIG = '{"nonMasqueradeCIDRs":["10.10.1.0/24","10.10.2.0/24"],"masqLinkLocal":false}'
if IPV6:  # the router's fd00:10:1::/64 mirrors its 10.10.1.0/24
    IPMASQ_CONFIG = ('{"nonMasqueradeCIDRs":["10.10.1.0/24","10.10.2.0/24","fd00:10:1::/64"],'
                     '"masqLinkLocal":false,"masqLinkLocalIPv6":false}')


def node(name, ip, cidr, ip6=None, cidr6=None):
    """A Node as the apiserver shows it: both families' InternalIPs and
    podCIDRs (the IPv4 ones first) when the lab is dual stack."""
    ip6, cidr6 = (ip6, cidr6) if IPV6 else (None, None)
    return {"kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr] + ([cidr6] if cidr6 else [])},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}] +
                       ([{"type": "InternalIP", "address": ip6}] if ip6 else []) +
                       [{"type": "Hostname", "address": name}]}}


def pod(ns, name, node_name, ip, labels, ip6=None, phase="Running"):
    o = {"kind": "Pod", "metadata": {"namespace": ns, "name": name, "labels": dict(labels)},
         "spec": {"nodeName": node_name, "containers": [{"name": "main", "image": "app"}]},
         "status": {"phase": phase}}
    if ip:
        o["status"]["podIP"] = ip
        o["status"]["podIPs"] = [{"ip": ip}] + ([{"ip": ip6}] if ip6 and IPV6 else [])
    return o


def service(ns, name, typ, cip, ports, selector, **extra):
    """A Service; dual stack (PreferDualStack, the IPv4 address first) when
    the lab is and SERVICE_IP6 has an address for it."""
    pl = []
    for p in ports:
        d = {"name": p[0], "protocol": p[1], "port": p[2], "targetPort": p[3]}
        if len(p) > 4 and p[4]:
            d["nodePort"] = p[4]
        pl.append(d)
    cip6 = SERVICE_IP6.get(ns + "/" + name) if IPV6 else None
    spec = {"type": typ, "clusterIP": cip, "clusterIPs": [cip] + ([cip6] if cip6 else []),
            "ports": pl, "selector": selector,
            "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4", "IPv6"] if cip6 else ["IPv4"],
            "ipFamilyPolicy": "PreferDualStack" if cip6 else "SingleStack"}
    if typ in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = "Cluster"
    spec.update(extra)
    return {"kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": spec}


def endpoint(ip, node_name, state="ready", target=None):
    """state: ready, terminating (still serving), gone (terminating, not
    serving), notready."""
    cond = {"ready": {"ready": True, "serving": True, "terminating": False},
            "terminating": {"ready": False, "serving": True, "terminating": True},
            "gone": {"ready": False, "serving": False, "terminating": True},
            "notready": {"ready": False, "serving": False, "terminating": False}}[state]
    e = {"addresses": [ip], "conditions": cond, "nodeName": node_name}
    if target:
        e["targetRef"] = {"kind": "Pod", "namespace": target[0], "name": target[1]}
    return e


def endpoint_slice(ns, svc, name, endpoints, ports):
    return {"kind": "EndpointSlice",
            "metadata": {"namespace": ns, "name": name,
                         "labels": {"kubernetes.io/service-name": svc,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv6" if endpoints and ":" in endpoints[0]["addresses"][0] else "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": p[0], "protocol": p[1], "port": p[3]} for p in ports]}


def lrp_nodelocaldns():
    return {"kind": "CiliumLocalRedirectPolicy",
            "metadata": {"namespace": "kube-system", "name": "nodelocaldns"},
            "spec": {"redirectFrontend": {"serviceMatcher": {"serviceName": "kube-dns",
                                                             "namespace": "kube-system"}},
                     "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                         "toPorts": [{"port": "53", "name": "dns", "protocol": "UDP"},
                                                     {"port": "53", "name": "dns-tcp", "protocol": "TCP"}]}}}


def ipmasq_configmap(config=IPMASQ_CONFIG):
    return {"kind": "ConfigMap", "metadata": {"namespace": "kube-system", "name": "ip-masq-agent"},
            "data": {"config": config}}


def lab_slices():
    out = []
    for ns, name, _typ, _cip, ports, sel in SERVICES:
        pods = [(pns, pname, nd, ip, ip6) for pns, pname, nd, ip, lab, ip6 in PODS
                if pns == ns and all(lab.get(k) == v for k, v in sel.items())]
        eps = [endpoint(ip, nd, target=(pns, pname)) for pns, pname, nd, ip, _ in pods]
        out.append(endpoint_slice(ns, name, name + "-lab01", eps, ports))
        if IPV6 and SERVICE_IP6.get(ns + "/" + name):  # one slice per family
            eps = [endpoint(ip6, nd, target=(pns, pname)) for pns, pname, nd, _, ip6 in pods]
            out.append(endpoint_slice(ns, name, name + "-lab06", eps, ports))
    return out


def lab_objects():
    out = [node(*n) for n in NODES]
    out += [pod(*p) for p in PODS]
    out += [service(*s) for s in SERVICES]
    out += lab_slices()
    out.append(lrp_nodelocaldns())
    out.append(ipmasq_configmap())
    return out


if __name__ == "__main__":
    json.dump(lab_objects(), sys.stdout, indent=1)
    sys.stdout.write("\n")
