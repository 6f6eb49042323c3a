"""Kubeflow's Jupyter web app spoken to as a data scientist's browser speaks to it: who the caller is (the header
the platform's gateway sets, or a bearer token the gateway's login accepts), the CSRF cookie the app hands out
with its index page, and the launch form filled from the app's own configuration as its frontend fills it.

Followed at kubeflow/kubeflow v1.10.0, components/crud-web-apps/:
- common/backend/kubeflow/kubeflow/crud_backend/authn.py:12-23 (the user is the USERID_HEADER's value less
  USERID_PREFIX) and csrf.py (the XSRF-TOKEN cookie is set with the index page; a POST must send the same value
  in the X-XSRF-TOKEN header; GET is not checked);
- jupyter/frontend/src/app/pages/form/form-new/utils.ts:6-171 (the form's controls and how /api/config fills
  them; a read-only field's control is disabled, so the form's value leaves it out) and
  form-new.component.ts:96-150 (what is sent: the custom image as `image`, sizes with `Gi`, null limits left
  out).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import urllib3

CSRF_COOKIE, CSRF_HEADER = "XSRF-TOKEN", "X-XSRF-TOKEN"


class WebAppUnreachable(RuntimeError):
    """The web app did not answer at all (no HTTP status): the message names the address and the fix."""


@dataclass(frozen=True)
class Caller:
    """Who calls the web app: the headers that say so, and a name for messages."""

    name: str
    headers: dict[str, str]

    @classmethod
    def by_header(cls, user: str, header: str, prefix: str) -> Caller:
        """As the platform's gateway tells the web app who is calling (kubeflow-userid by default)."""
        return cls(user, {header: f"{prefix}{user}"})

    @classmethod
    def by_token(cls, token: str, description: str) -> Caller:
        """With a bearer token the platform's login (e.g. oauth2-proxy) accepts and turns into that header."""
        return cls(description, {"Authorization": f"Bearer {token}"})


@dataclass(frozen=True)
class Reply:
    method: str
    url: str
    status: int
    body: dict[str, Any]
    text: str
    set_cookies: tuple[str, ...] = ()  # the Set-Cookie headers of the answer

    def summary(self) -> str:
        """One line for messages and the report: the request, the status and what the app said."""
        said = self.body.get("log") or self.text[:300]
        return f"{self.method} {self.url} → {self.status}" + (f": {said}" if self.status >= 400 else "")


@dataclass
class WebApp:
    """The web app at `url` (its root: where its index page and /api/... are)."""

    url: str
    timeout: float
    pool: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False))

    def get(self, path: str, caller: Caller) -> Reply:
        return self._request("GET", path, dict(caller.headers))

    def post(self, path: str, caller: Caller, body: dict[str, Any]) -> Reply:
        """A POST as the frontend sends it: JSON, with the CSRF cookie of a fresh index page echoed in the header."""
        token = self.csrf_token(caller)
        headers = {**caller.headers, "Content-Type": "application/json", "Cookie": f"{CSRF_COOKIE}={token}",
                   CSRF_HEADER: token}  # fmt: skip
        return self._request("POST", path, headers, json.dumps(body).encode())

    def csrf_token(self, caller: Caller) -> str:
        """The CSRF cookie the app sets with its index page, as a browser gets it before any change. The cookie is
        Secure when the app runs with APP_SECURE_COOKIES (upstream's default), so it is read from the Set-Cookie
        header and echoed by hand, as a browser on HTTPS would send it."""
        reply = self._request("GET", "/", dict(caller.headers))
        for line in reply.set_cookies:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(line)
            if CSRF_COOKIE in cookie:
                return cookie[CSRF_COOKIE].value
        raise AssertionError(
            f"GET {self.url}/ answered {reply.status} without the {CSRF_COOKIE} cookie the Jupyter web app sets with "
            "its index page; without it no notebook can be launched (the app refuses a POST without it)"
        )

    def _request(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        url = f"{self.url.rstrip('/')}{path}"
        try:
            response = self.pool.request(method, url, headers=headers, body=body, timeout=self.timeout)
        except urllib3.exceptions.HTTPError as error:
            raise WebAppUnreachable(
                f"the Jupyter web app at {self.url} does not answer ({error.__class__.__name__}: {str(error)[:200]}); "
                "check -u jupyter_web_app_url= (the address a browser opens the app at, e.g. "
                "https://<kubeflow>/jupyter)"
            ) from None
        text = response.data.decode(errors="replace")
        try:
            parsed = json.loads(text) if text.lstrip().startswith("{") else {}
        except ValueError:
            parsed = {}
        return Reply(method, url, response.status, parsed, text, tuple(response.headers.getlist("Set-Cookie")))


def _size(text: Any) -> float:
    """A size of the app's configuration as its frontend reads it ("1.0Gi" → 1.0; NaN when unreadable)."""
    match = re.match(r"^\s*([0-9]*\.?[0-9]+)", str(text))
    return float(match.group(1)) if match else float("nan")


def _limit(request: float, factor: Any) -> str | None:
    """The limit the form proposes: request times limitFactor to one decimal, none when the factor is not a number."""
    limit = request * _size(factor)
    return None if limit != limit else f"{limit:.1f}"  # NaN is not equal to itself


def launch_form(config: dict[str, Any], name: str, namespace: str, image: str, labels: list[str]) -> dict[str, Any]:
    """The body the web app's frontend sends when a user fills only the name, a custom image and configurations
    (PodDefaults, by their labels) and keeps every other default of the app's configuration."""
    body: dict[str, Any] = {"name": name, "namespace": namespace, "allowCustomImage": True, "serverType": "jupyter",
                            "customImage": image, "customImageCheck": True, "image": image}  # fmt: skip

    def editable(key: str) -> dict[str, Any] | None:
        entry = config.get(key)
        return entry if isinstance(entry, dict) and not entry.get("readOnly") else None

    if (pull := editable("imagePullPolicy")) is not None:
        body["imagePullPolicy"] = pull["value"]
    if (cpu := editable("cpu")) is not None:
        body["cpu"] = _number_text(_size(cpu["value"]))
        if (cpu_limit := _limit(_size(cpu["value"]), cpu.get("limitFactor"))) is not None:
            body["cpuLimit"] = cpu_limit
    if (memory := editable("memory")) is not None:
        body["memory"] = f"{_number_text(_size(memory['value']))}Gi"
        if (memory_limit := _limit(_size(memory["value"]), memory.get("limitFactor"))) is not None:
            body["memoryLimit"] = f"{memory_limit}Gi"
    gpus = config.get("gpus")
    if gpus is None:
        body["gpus"] = {"vendor": "", "num": "none"}
    elif not gpus.get("readOnly"):
        body["gpus"] = {"vendor": gpus["value"].get("vendor", ""), "num": gpus["value"].get("num", "none")}
    if (workspace := editable("workspaceVolume")) is not None and workspace.get("value"):
        body["workspace"] = _named_for(workspace["value"], name)
    if (data := editable("dataVolumes")) is not None:
        body["datavols"] = [_named_for(volume, name) for volume in data.get("value") or []]
    for key in ("affinityConfig", "tolerationGroup", "shm"):
        if (entry := editable(key)) is not None:
            body[key] = entry["value"]
    if (configurations := editable("configurations")) is None:
        if labels:
            raise AssertionError(
                "the Jupyter web app's configuration makes `configurations` read-only: a user cannot choose a "
                "PodDefault when launching a notebook there"
            )
    else:
        body["configurations"] = [*(configurations.get("value") or []), *labels]
    return body


def _number_text(value: float) -> str:
    """A number as JavaScript's toString writes it (1.0 → "1", 0.5 → "0.5")."""
    return str(int(value)) if value == int(value) else repr(value)


NOTEBOOK_NAME = "{notebook-name}"  # what the form replaces in a new volume's name (volume/new/name/name.component.ts)


def _named_for(volume: dict[str, Any], name: str) -> dict[str, Any]:
    """A volume of the form with {notebook-name} in its new claim's name replaced by the notebook's name, as the
    form's volume-name control does once the user has typed the name (name.component.ts:26-58)."""
    new_claim = volume.get("newPvc")
    if not new_claim:
        return dict(volume)
    metadata = {
        **new_claim.get("metadata", {}),
        "name": str(new_claim["metadata"]["name"]).replace(NOTEBOOK_NAME, name),
    }
    return {**volume, "newPvc": {**new_claim, "metadata": metadata}}


def workspace_claim(body: dict[str, Any]) -> str | None:
    """The PersistentVolumeClaim the app makes for the form's new workspace volume."""
    new_claim = (body.get("workspace") or {}).get("newPvc")
    return str(new_claim["metadata"]["name"]) if new_claim else None
