"""The notebook controller's Prometheus metrics (:8080 /metrics) and health probes (:8081 /healthz, /readyz).

Upstream: kubeflow/kubeflow v1.10.0 components/notebook-controller/main.go 64-65 (--metrics-addr :8080,
--probe-addr :8081), 86-93 (the manager serves both), 124-132 (healthz and readyz: a ping that always
passes); pkg/metrics/metrics.go 22-64 (the metrics), 67-79 (Describe and Collect: only notebook_running,
notebook_create_total and notebook_create_failed_total are collected), 82-99 (notebook_running computed at
scrape time); controller-runtime v0.11.0 pkg/healthz/healthz.go (the probe answers) and
pkg/manager/internal.go 325-356 (the two servers, started before anything else). Read, not copied.

- notebook_create_total{namespace} counts StatefulSet creations tried, notebook_create_failed_total{namespace}
  the failed ones (notebook_controller.go:149, 154);
- notebook_running{namespace}: at each scrape, the StatefulSets whose pod template's label `notebook-name` is
  the StatefulSet's own name, counted per namespace, stopped ones included; a namespace whose count drops to
  none keeps the last value it had (the gauge is set, never reset); a failed list leaves the values as they
  were;
- notebook_culling_total and last_notebook_culling_timestamp_seconds are defined upstream but never
  exported: Collect leaves them out and main.go:111-115 gives the culler no Metrics. Ours has neither;
- /healthz and /readyz answer 200 `ok` (`?verbose`: `[+]<check> ok` lines and `<...> check passed`),
  /healthz/healthz and /readyz/readyz too; any other path 404.
"""

from __future__ import annotations

import decimal
import http.server
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOG = logging.getLogger("notebook-controller")
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FAMILIES = {  # name: (type, help, label names), as pkg/metrics/metrics.go:25-45 define them
    "notebook_running": ("gauge", "Current running notebooks in the cluster", ("namespace",)),
    "notebook_create_total": ("counter", "Total times of creating notebooks", ("namespace",)),
    "notebook_create_failed_total": ("counter", "Total failure times of creating notebooks", ("namespace",)),
}


def go_float(value: float) -> str:
    """A sample value as Prometheus' Go client writes it (strconv 'g', shortest): 3, 0.5, 1.234567e+06."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = decimal.Decimal(repr(float(value))).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    point = len(text) + int(exponent)  # digits before the decimal point
    exp10 = point - 1
    prefix = "-" if sign else ""
    if value == 0:
        return prefix + "0"
    if exp10 < -4 or exp10 >= 6:  # strconv's shortest 'g' switches to an exponent from 1e+06 on
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class NotebookMetrics:
    """The three exported families. list_stateful_sets() -> the items of a cluster-wide StatefulSet list."""

    def __init__(self, list_stateful_sets: Callable[[], Iterable[dict[str, Any]]] | None = None) -> None:
        self.list_stateful_sets = list_stateful_sets
        self.lock = threading.Lock()
        self.samples: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in FAMILIES}

    def inc(self, family: str, *labels: str) -> None:
        with self.lock:
            self.samples[family][labels] = self.samples[family].get(labels, 0.0) + 1

    def scrape(self) -> None:
        """metrics.go:82-99."""
        if self.list_stateful_sets is None:
            return
        try:
            items = list(self.list_stateful_sets())
        except Exception:
            LOG.exception("listing StatefulSets for notebook_running")
            return
        counts: dict[str, float] = {}
        for item in items:
            labels = ((item.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
            if "notebook-name" in labels and labels["notebook-name"] == item["metadata"]["name"]:
                namespace = item["metadata"]["namespace"]
                counts[namespace] = counts.get(namespace, 0.0) + 1
        with self.lock:
            for namespace, count in counts.items():
                self.samples["notebook_running"][(namespace,)] = count

    def exposition(self) -> str:
        """Prometheus' text format: families by name, samples by label values; a family without samples is left
        out (as the Go client's Gather does)."""
        self.scrape()
        lines: list[str] = []
        with self.lock:
            for name in sorted(FAMILIES):
                kind, help_text, label_names = FAMILIES[name]
                if not self.samples[name]:
                    continue
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
                for values, value in sorted(self.samples[name].items()):
                    labels = ",".join(f'{key}="{_escape(v)}"' for key, v in zip(label_names, values, strict=True))
                    lines.append(f"{name}{{{labels}}} {go_float(value)}")
        return "".join(line + "\n" for line in lines)


def probe_answer(path: str, query: str) -> tuple[int, str]:
    """controller-runtime's healthz handler with one check, named like the endpoint, that always passes."""
    for endpoint in ("/healthz", "/readyz"):
        if path != endpoint and not path.startswith(endpoint + "/"):
            continue
        rest = "/" + path[len(endpoint) :].strip("/")
        check = endpoint[1:]
        if rest == "/":
            if "verbose" in parse_qs(query, keep_blank_values=True):
                return 200, f"[+]{check} ok\nhealthz check passed\n"
            return 200, "ok"
        if rest == f"/{check}":
            return 200, "ok"
        break
    return 404, "404 page not found\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    metrics: NotebookMetrics | None = None
    server_version = "kubeflow-lite"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if self.metrics is not None:
            status, body, content_type = (200, self.metrics.exposition(), EXPOSITION_TYPE) if parts.path == "/metrics" \
                else (404, "404 page not found\n", "text/plain; charset=utf-8")  # fmt: skip
        else:
            status, body = probe_answer(parts.path, parts.query)
            content_type = "text/plain; charset=utf-8"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s " + format, self.address_string(), *args)


def parse_address(address: str) -> tuple[str, int]:
    """Go's ":8080" (every interface) or "127.0.0.1:8080"; "0" turns the server off (controller-runtime)."""
    host, _, port = address.rpartition(":")
    return host, int(port)


def serve(address: str, metrics: NotebookMetrics | None) -> http.server.ThreadingHTTPServer | None:
    """Starts the metrics server (metrics given) or the probe server in a daemon thread; None when off."""
    if address == "0":
        return None
    handler = type("Handler", (_Handler,), {"metrics": metrics})
    server = http.server.ThreadingHTTPServer(parse_address(address), handler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    LOG.info("serving %s on %s", "metrics" if metrics is not None else "health probes", address)
    return server
