"""The embedded cluster does real work: pods run, Services route, DNS resolves, volumes are shared,
the API server calls a webhook served from a pod. Run against the cluster `make up` brought up."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kfcheck_cluster.layout import NODE_NAME, SERVICE_CIDR

from .conftest import CHECK_IMAGE, Kubectl

pytestmark = pytest.mark.cluster


def test_node_is_ready_and_api_server_is_ready(kubectl: Kubectl) -> None:
    assert kubectl("get", "--raw", "/readyz").strip() == "ok"
    condition = kubectl("get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
    assert condition == "True"


def test_pod_from_local_image_completes_with_logs_and_exec(kubectl: Kubectl) -> None:
    kubectl.apply("client.yaml", name="once", script="echo built-here-and-ran; cat /etc/os-release | head -1")
    kubectl.wait_completed("once")
    logs = kubectl("logs", "once")
    assert "built-here-and-ran" in logs
    assert "Debian" in logs

    kubectl.apply("client.yaml", name="long", script="sleep 3600")
    kubectl.wait("pod/long", "condition=Ready")
    assert kubectl("exec", "long", "--", "sh", "-c", "echo exec:$((6*7))").strip() == "exec:42"


def test_pod_reaches_pod_through_cluster_ip_and_headless_service(kubectl: Kubectl) -> None:
    kubectl.apply("web.yaml")
    kubectl.wait("pod/web", "condition=Ready")
    cluster_ip = kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert cluster_ip.startswith(SERVICE_CIDR.split(".0.0/")[0] + ".")
    script = "wget -qO- -T 5 http://web/ && wget -qO- -T 5 http://web-headless:8080/ && getent hosts web-headless"
    kubectl.apply("client.yaml", name="client", script=script)
    kubectl.wait_completed("client")
    out = kubectl("logs", "client")
    assert out.count("served by web") == 2, out


def test_pod_reaches_api_server_through_kubernetes_default_with_its_token(kubectl: Kubectl) -> None:
    kubectl("create", "rolebinding", "view", "--clusterrole=view", f"--serviceaccount={kubectl.namespace}:default")
    script = (
        'python3 -c "import json, ssl, urllib.request; '
        "d='/var/run/secrets/kubernetes.io/serviceaccount/'; "
        "token=open(d+'token').read(); ns=open(d+'namespace').read(); "
        "ctx=ssl.create_default_context(cafile=d+'ca.crt'); "
        "req=urllib.request.Request('https://kubernetes.default/api/v1/namespaces/'+ns+'/pods', "
        "headers={'Authorization': 'Bearer '+token}); "
        "pods=json.load(urllib.request.urlopen(req, context=ctx, timeout=10)); "
        "print('pods seen:', sorted(p['metadata']['name'] for p in pods['items']))\""
    )
    kubectl.apply("client.yaml", name="api-client", script=script)
    kubectl.wait_completed("api-client")
    assert "pods seen:" in kubectl("logs", "api-client")
    assert "'api-client'" in kubectl("logs", "api-client")


def test_read_write_many_claim_binds_and_two_pods_share_a_file(kubectl: Kubectl) -> None:
    kubectl.apply("shared-volume.yaml")
    kubectl.wait("pvc/shared", "jsonpath={.status.phase}=Bound")
    assert kubectl("get", "pvc", "shared", "-o", "jsonpath={.spec.accessModes[0]}") == "ReadWriteMany"
    kubectl.wait_completed("reader")
    assert kubectl("logs", "reader").strip() == "written by writer"


def _webhook_certificates(namespace: str, directory: Path) -> dict[str, str]:
    host = f"webhook.{namespace}.svc"
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "tls.key", directory / "tls.csr", directory / "tls.crt"
    extensions = directory / "san.cnf"
    extensions.write_text(f"subjectAltName=DNS:{host}\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=check-ca",
            "-keyout", str(ca_key), "-out", str(ca_crt))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=webhook", "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "1", "-extfile", str(extensions), "-out", str(crt))  # fmt: skip

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {"tls_crt": b64(crt), "tls_key": b64(key), "ca_bundle": b64(ca_crt)}


def _wait_reachable(host: str, port: int, deadline_seconds: float) -> None:
    deadline = time.monotonic() + deadline_seconds
    last_error: OSError | None = None
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError as error:
            last_error = error
            time.sleep(0.2)
    raise AssertionError(f"{host}:{port} not reachable from the node after {deadline_seconds}s: {last_error}")


def test_api_server_calls_a_webhook_served_from_a_pod(kubectl: Kubectl, tmp_path: Path) -> None:
    certificates = _webhook_certificates(kubectl.namespace, tmp_path)
    kubectl.apply("webhook.yaml", **certificates)
    kubectl.wait("pod/webhook", "condition=Ready")
    # kube-proxy programs the new Service's rules asynchronously; register the webhook once the
    # API server's side (this host) can reach the Service, as an operator's readiness gate would.
    cluster_ip = kubectl("get", "service", "webhook", "-o", "jsonpath={.spec.clusterIP}")
    _wait_reachable(cluster_ip, 443, deadline_seconds=30)
    kubectl.apply("webhook-registration.yaml", **certificates)
    labelled = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: denied\n  labels: {kfcheck-deny: 'yes'}\n"
    message = f"denied by the in-cluster webhook of {kubectl.namespace}"
    try:
        # The API server loads a new registration asynchronously: probe with server-side dry runs.
        deadline = time.monotonic() + 30
        while message not in kubectl("apply", "--dry-run=server", "-f", "-", stdin=labelled, check=False):
            assert time.monotonic() < deadline, "the API server never called the webhook within 30s"
            time.sleep(0.5)
        kubectl("create", "configmap", "allowed", "--from-literal=a=b")
        denied = kubectl("apply", "-f", "-", stdin=labelled, check=False)
        assert message in denied, denied
        assert "configmap/denied" not in kubectl("get", "configmaps", "-o", "name")
        assert "configmap/allowed" in kubectl("get", "configmaps", "-o", "name")
    finally:
        kubectl("delete", "validatingwebhookconfiguration", f"kfcheck-check-{kubectl.namespace}", check=False)


def test_image_is_the_locally_built_one(kubectl: Kubectl) -> None:
    kubectl.apply("client.yaml", name="which", script="true")
    kubectl.wait_completed("which")
    assert kubectl("get", "pod", "which", "-o", "jsonpath={.status.containerStatuses[0].image}") == CHECK_IMAGE
