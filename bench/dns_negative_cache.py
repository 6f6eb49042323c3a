"""How long a cluster name stays unresolvable after its Service appears, with and without negative caching.

    ~/.cache/kfcheck/venv/bin/python bench/dns_negative_cache.py

Starts two private CoreDNS processes on 127.0.0.1 next to the cluster's (same binary, same kubeconfig, the
cluster's Corefile with only the port changed): one caching every answer for up to 30 s (`cache 30`, what
the embedded cluster had), one with `disable denial` for the cluster domain (what it has now). Then, in a
scratch namespace, it asks both for a Service's name before the Service exists (as a PyTorchJob worker
asks for its master), creates the Service, and asks every 0.1 s until each server answers. Prints the
TTL of the "does not exist" answer (the SOA minimum the kubernetes plugin sends) and each delay.
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from kfcheck_cluster.layout import CLUSTER_DIR, CLUSTER_DOMAIN, Layout

SERVERS = {"cache 30 (before)": 15353, "cache 30 + disable denial (now)": 15354}


def corefile(port: int, health: int, negative_caching: bool, layout: Layout) -> str:
    text = (CLUSTER_DIR / "config" / "Corefile").read_text()
    text = text.replace("${cluster_dns_ip}", "127.0.0.1").replace("${cluster_domain}", CLUSTER_DOMAIN)
    text = text.replace("${state}", str(layout.state)).replace(".:53 {", f".:{port} {{")
    text = re.sub(r"health \S+", f"health 127.0.0.1:{health}", text)
    text = re.sub(r"ready \S+", f"ready 127.0.0.1:{health + 1}", text)
    text = re.sub(r"\n\s*reload [^\n]*", "", text)
    if negative_caching:
        text = re.sub(r"cache 30 \{[^}]*\}", "cache 30", text)
    return text


def query(name: str, port: int) -> tuple[int, int | None]:
    """(rcode, TTL of the SOA in the authority section of a negative answer, if any) for an A query."""
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split("."))
    packet = struct.pack(">HHHHHH", secrets.randbelow(65536), 0x0100, 1, 0, 0, 0) + labels + b"\0\0\1\0\1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(packet, ("127.0.0.1", port))
        answer = sock.recv(4096)
    rcode = answer[3] & 0xF
    answers, authorities = struct.unpack(">HH", answer[6:10])
    negative_ttl = None
    if rcode == 3 and authorities and not answers:
        offset = 12 + len(labels) + 1 + 4
        while answer[offset] not in (0,) and answer[offset] < 0xC0:  # skip the owner name
            offset += answer[offset] + 1
        offset += 2 if answer[offset] >= 0xC0 else 1
        negative_ttl = struct.unpack(">I", answer[offset + 4 : offset + 8])[0]
    return rcode, negative_ttl


def main() -> int:
    layout = Layout.from_env()
    binary = layout.binary("coredns", "coredns")
    workdir = Path(tempfile.mkdtemp(prefix="kfcheck-dns-bench-"))
    processes = []
    for index, (title, port) in enumerate(SERVERS.items()):
        path = workdir / f"Corefile.{port}"
        path.write_text(corefile(port, 18300 + 10 * index, negative_caching=index == 0, layout=layout))
        log = (workdir / f"coredns.{port}.log").open("w")
        processes.append(subprocess.Popen([str(binary), "-conf", str(path)], stdout=log, stderr=subprocess.STDOUT))
        print(f"{title}: CoreDNS on 127.0.0.1:{port} ({path})")
    config.load_kube_config(str(layout.kubeconfig))
    core = client.CoreV1Api()
    namespace = f"kfcheck-dns-bench-{secrets.token_hex(3)}"
    try:
        time.sleep(2)  # the kubernetes plugin syncs its caches
        core.create_namespace({"metadata": {"name": namespace}})
        name = f"master.{namespace}.svc.{CLUSTER_DOMAIN}"
        for title, port in SERVERS.items():
            rcode, ttl = query(name, port)
            print(f"{title}: before the Service exists: rcode {rcode} (3 = NXDOMAIN), negative TTL {ttl} s")
        core.create_namespaced_service(namespace, {"metadata": {"name": "master"}, "spec": {"ports": [{"port": 80}]}})
        created = time.monotonic()
        resolved: dict[str, float] = {}
        while len(resolved) < len(SERVERS) and time.monotonic() - created < 60:
            for title, port in SERVERS.items():
                if title not in resolved and query(name, port)[0] == 0:
                    resolved[title] = time.monotonic() - created
            time.sleep(0.1)
        for title in SERVERS:
            seconds = resolved.get(title)
            print(f"{title}: resolves {seconds:.1f} s after the Service was created" if seconds is not None
                  else f"{title}: still unresolved after 60 s")  # fmt: skip
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        core.delete_namespace(namespace)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
