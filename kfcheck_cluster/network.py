"""The node's networking: its own address on a dummy interface, kernel settings, and the guard that
keeps cluster traffic on this machine.

The node address and the cluster DNS address live on `kfcheck0`, a bridge without ports (the kernel
here has no dummy driver), so nothing the cluster listens on is bound to the machine's own network
interface. The guard chain rejects
- packets still addressed to the Service range after kube-proxy's NAT (a Service without its rules
  yet, during start-up or a kube-proxy restart, is refused here rather than routed out), and
- packets from the pod range leaving through any interface but the pod bridge,
so pod traffic can only reach pods, the node, or nothing. The machine's own traffic is untouched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kfcheck_cluster.layout import CLUSTER_DNS_IP, NODE_INTERFACE, NODE_IP, POD_CIDR, SERVICE_CIDR, Layout
from kfcheck_cluster.processes import ClusterError, run

GUARD_CHAIN = "KFCHECK-GUARD"
POD_BRIDGE = "cni0"
SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/ipv4/conf/all/route_localnet": "0",
}


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True, check=False)


def ensure_node_interface() -> None:
    if _ip("link", "show", NODE_INTERFACE).returncode != 0:
        run(["ip", "link", "add", NODE_INTERFACE, "type", "bridge"], f"creating the node interface {NODE_INTERFACE}")
    addresses = _ip("-4", "addr", "show", "dev", NODE_INTERFACE).stdout
    for address in (NODE_IP, CLUSTER_DNS_IP):
        if f"inet {address}/" not in addresses:
            run(["ip", "addr", "add", f"{address}/32", "dev", NODE_INTERFACE], f"adding {address} to {NODE_INTERFACE}")
    run(["ip", "link", "set", NODE_INTERFACE, "up"], f"bringing {NODE_INTERFACE} up")


def set_sysctls() -> None:
    for key, value in SYSCTLS.items():
        path = Path("/proc/sys") / key
        if key == "net/ipv4/conf/all/route_localnet":
            continue  # documented default; kube-proxy manages it for its own NodePorts
        try:
            path.write_text(value)
        except OSError as error:
            raise ClusterError(f"cannot set sysctl {key.replace('/', '.')}={value}: {error}") from error


def make_root_shared() -> None:
    """Mount propagation for pods that use it (the kubelet expects a shared root)."""
    run(["mount", "--make-rshared", "/"], "mount --make-rshared /")


GUARD_RULES = [
    ["-d", SERVICE_CIDR, "-j", "REJECT", "--reject-with", "icmp-net-unreachable"],
    ["-s", POD_CIDR, "!", "-o", POD_BRIDGE, "-j", "REJECT", "--reject-with", "icmp-net-unreachable"],
]


def ensure_guard() -> None:
    if _iptables("-n", "-L", GUARD_CHAIN).returncode != 0:
        run(["iptables", "-w", "5", "-N", GUARD_CHAIN], f"creating iptables chain {GUARD_CHAIN}")
    run(["iptables", "-w", "5", "-F", GUARD_CHAIN], f"flushing {GUARD_CHAIN}")
    for rule in GUARD_RULES:
        run(["iptables", "-w", "5", "-A", GUARD_CHAIN, *rule], f"adding a rule to {GUARD_CHAIN}")
    ensure_guard_first()


def ensure_guard_first() -> None:
    """The guard's jump must come before anything kube-proxy or CNI put in FORWARD and OUTPUT."""
    for chain in ("FORWARD", "OUTPUT"):
        listing = _iptables("-S", chain).stdout.splitlines()
        rules = [line for line in listing if line.startswith(f"-A {chain} ")]
        jump = f"-A {chain} -j {GUARD_CHAIN}"
        if rules and rules[0] == jump:
            continue
        while _iptables("-D", chain, "-j", GUARD_CHAIN).returncode == 0:
            pass
        run(["iptables", "-w", "5", "-I", chain, "1", "-j", GUARD_CHAIN], f"hooking {GUARD_CHAIN} into {chain}")


def prepare_host(layout: Layout) -> None:
    del layout
    ensure_node_interface()
    set_sysctls()
    make_root_shared()
    ensure_guard()


def teardown_host(layout: Layout) -> None:
    del layout
    for chain in ("FORWARD", "OUTPUT"):
        while _iptables("-D", chain, "-j", GUARD_CHAIN).returncode == 0:
            pass
    _iptables("-F", GUARD_CHAIN)
    _iptables("-X", GUARD_CHAIN)
    for link in (POD_BRIDGE, NODE_INTERFACE):
        _ip("link", "delete", link)
