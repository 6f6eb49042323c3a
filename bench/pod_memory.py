"""Memory of the pods in some namespaces, from the kubelet's summary API (no metrics-server needed).

Usage: python bench/pod_memory.py [namespace ...]   (default: kubeflow kubeflow-system)
Prints each pod's working set and RSS (MiB) as the kubelet measures them, and each namespace's total;
e.g. the controllers of Kubeflow Trainer and JobSet (kubeflow-system) beside the v1 components (kubeflow).
"""

from __future__ import annotations

import json
import os
import sys

from kubernetes import client, config

MIB = 1024 * 1024


def summaries(api: client.ApiClient) -> list[dict]:
    core = client.CoreV1Api(api)
    found = []
    for node in core.list_node().items:
        path = f"/api/v1/nodes/{node.metadata.name}/proxy/stats/summary"
        response = api.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False)
        found.append(json.loads(response[0].data))
    return found


def main(namespaces: list[str]) -> int:
    api = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
    wanted = namespaces or ["kubeflow", "kubeflow-system"]
    totals = dict.fromkeys(wanted, 0.0)
    for summary in summaries(api):
        for pod in summary.get("pods", []):
            namespace = pod["podRef"]["namespace"]
            if namespace not in totals:
                continue
            memory = pod.get("memory") or {}
            working_set = memory.get("workingSetBytes", 0) / MIB
            rss = memory.get("rssBytes", 0) / MIB
            totals[namespace] += working_set
            print(f"{namespace:16s} {pod['podRef']['name']:55s} working set {working_set:7.1f} MiB  rss {rss:7.1f} MiB")
    for namespace, total in totals.items():
        print(f"{namespace:16s} total working set {total:7.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
