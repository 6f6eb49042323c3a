"""Notebooks the way data scientists make them: through Kubeflow's Jupyter web app (crud-web-apps/jupyter), whose
API its browser frontend calls. The app lists the namespace's PodDefaults as "configurations", launches a
Notebook labelled for the chosen ones, lists the namespace's notebooks with a status, and answers 403 to a user
the cluster does not allow in the namespace (a SubjectAccessReview of the user its gateway names).

Upstream at kubeflow/kubeflow v1.10.0, components/crud-web-apps/: jupyter/backend/apps/common/routes/get.py:13-57
(/api/config, /api/namespaces/<ns>/poddefaults with `label` = the first matchLabels key and `desc`, /notebooks
with `status`), apps/default/routes/post.py:12-75 (the launch), apps/common/form.py:253-261 (a configuration's
label set to "true" on the Notebook), apps/common/status.py:116-120 and common/backend/.../status.py:7
(phase "ready" once the Notebook has its ready replica), common/backend/.../authz.py:46-110 (403)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kfcheck.core.capabilities import Unavailable
from kfcheck.core.scenario import Controller, Scenario
from kfcheck.kubeflow import notebook, poddefault
from kfcheck.kubeflow.jupyter_web_app_client import Caller, WebApp, launch_form, workspace_claim

# app=jupyter-web-app: the label kubeflow/manifests' kustomization (commonLabels) and our chart give its pods
WEB_APP = Controller("jupyter-web-app", ("app=jupyter-web-app",))
PROFILE_SERVICE_ACCOUNT = "default-editor"  # what the app's notebooks run as (post.py:24); a Profile makes it
OUTCOME = "jupyter_web_app"  # scenario.outcomes key: the app and who calls it


def serves_my_namespace(scenario: Scenario) -> None:
    """The Jupyter web app answers the scenario's user for its namespace. Skipped, with how to give it, when the
    app's address is not known; in a scenario's own namespace the user gets what a Profile would give it."""
    settings = scenario.settings
    if not settings.jupyter_web_app_url:
        raise Unavailable(
            "the Jupyter web app's address is not known: give -u jupyter_web_app_url= (where a browser opens it, "
            "e.g. https://<kubeflow>/jupyter) and, behind the platform's login, -u jupyter_web_app_token_file="
        )
    caller = _me(scenario)
    if scenario.shared_namespace:
        _check_profile_namespace(scenario)
    elif settings.jupyter_web_app_token_file:
        raise Unavailable(
            "with a token the web app acts as that token's user, who has rights in their Profile's namespace only: "
            "give -u namespace=<that namespace>"
        )
    else:
        scenario.create("jupyter-web-app-access", name=scenario.name("jupyter-web-app-user"), user=caller.name)
    app = WebApp(settings.jupyter_web_app_url, float(min(settings.timeout, 60)))
    scenario.uses(WEB_APP)
    scenario.outcomes[OUTCOME] = (app, caller)
    reply = app.get(f"/api/namespaces/{scenario.namespace}/notebooks", caller)
    assert reply.status == 200, f"the Jupyter web app does not serve {caller.name}'s namespace: {reply.summary()}"
    scenario.attach(f"Jupyter web app at {settings.jupyter_web_app_url} answers {caller.name} for {scenario.namespace}")


def _me(scenario: Scenario) -> Caller:
    settings = scenario.settings
    if settings.jupyter_web_app_token_file:
        token = _read_token(settings.jupyter_web_app_token_file, "jupyter_web_app_token_file")
        return Caller.by_token(token, f"the user of {settings.jupyter_web_app_token_file}")
    user = _username(scenario)
    return Caller.by_header(user, settings.jupyter_web_app_userid_header, settings.jupyter_web_app_userid_prefix)


def _username(scenario: Scenario) -> str:
    """Who the suite's kubeconfig authenticates as (a SelfSubjectReview): the user the gateway would name."""
    review = client.AuthenticationV1Api(scenario.kube.api).create_self_subject_review(
        client.V1SelfSubjectReview(api_version="authentication.k8s.io/v1", kind="SelfSubjectReview")
    )
    return str(review.status.user_info.username)


def _read_token(path: str, setting: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        why = f"-u {setting}={path} cannot be read ({error.strerror}): name a file holding the token"
        raise AssertionError(why) from None
    if not token:
        raise AssertionError(f"-u {setting}={path} is empty: it must hold the bearer token")
    return token


def _check_profile_namespace(scenario: Scenario) -> None:
    try:
        scenario.kube.core.read_namespaced_service_account(PROFILE_SERVICE_ACCOUNT, scenario.namespace)
    except ApiException as error:
        if error.status != 404:
            raise
        raise AssertionError(
            f"namespace {scenario.namespace} has no ServiceAccount {PROFILE_SERVICE_ACCOUNT}, which the Jupyter web "
            "app's notebooks run as; a Kubeflow Profile's namespace has one: give -u namespace=<your Profile's>"
        ) from None


def _app(scenario: Scenario) -> tuple[WebApp, Caller]:
    app, caller = scenario.outcomes[OUTCOME]
    return app, caller


def list_configurations(scenario: Scenario) -> None:
    """GET /api/namespaces/<ns>/poddefaults, as the launch form does to offer its configurations."""
    app, caller = _app(scenario)
    reply = app.get(f"/api/namespaces/{scenario.namespace}/poddefaults", caller)
    assert reply.status == 200, f"listing configurations: {reply.summary()}"
    scenario.outcomes["configurations"] = reply.body.get("poddefaults") or []
    names = [(entry.get("metadata") or {}).get("name") for entry in scenario.outcomes["configurations"]]
    scenario.attach(f"configurations offered: {', '.join(map(str, names)) or '(none)'}")


def check_offered(scenario: Scenario, poddefault_name: str) -> dict[str, Any]:
    """The PodDefault is among the configurations, offered by its selecting label and its description."""
    name = scenario.name(poddefault_name)
    offered = [e for e in scenario.outcomes["configurations"] if (e.get("metadata") or {}).get("name") == name]
    assert offered, f"PodDefault {name} is not among the configurations the Jupyter web app offers"
    spec = poddefault.read(scenario, poddefault_name)["spec"]
    label = next(iter(spec["selector"]["matchLabels"]))
    assert offered[0].get("label") == label, f"offered with label {offered[0].get('label')!r}, selects by {label!r}"
    description = spec.get("desc") or name
    assert offered[0].get("desc") == description, f"offered as {offered[0].get('desc')!r}, described {description!r}"
    return dict(offered[0])


def launch(scenario: Scenario, name: str, poddefault_name: str) -> None:
    """Launches a notebook as the form does with the PodDefault's configuration chosen and the suite's notebook
    image as a custom image; what the app creates (the Notebook, its workspace claim) is the scenario's to clean."""
    app, caller = _app(scenario)
    label = check_offered(scenario, poddefault_name)["label"]
    config = app.get("/api/config", caller)
    assert config.status == 200, f"reading the launch form's configuration: {config.summary()}"
    notebook_name = scenario.name(name)
    body = launch_form(config.body["config"], notebook_name, scenario.namespace, scenario.settings.notebook_image,
                       [label])  # fmt: skip
    scenario.uses(notebook.CONTROLLER, ("apps/v1", "StatefulSet"), ("kubeflow.org/v1", "Notebook"))
    # registered before the request: the app makes the claim before the Notebook (post.py:59-73), so a launch
    # that fails half-way leaves a claim; deleting what was never made is no error (namespaces.delete_object)
    for api_version, kind, made in (("kubeflow.org/v1", "Notebook", notebook_name),
                                    ("v1", "PersistentVolumeClaim", workspace_claim(body))):  # fmt: skip
        if made:
            scenario.created.append({"apiVersion": api_version, "kind": kind, "metadata": {"name": made}})
    reply = app.post(f"/api/namespaces/{scenario.namespace}/notebooks", caller, body)
    assert reply.status == 200 and reply.body.get("success"), f"launching {notebook_name}: {reply.summary()}"
    scenario.attach(f"launched {notebook_name} with configuration {label}: {reply.summary()}")


def check_listed_ready(scenario: Scenario, name: str) -> None:
    """The app's list of the namespace's notebooks shows the notebook with the phase "ready"."""
    app, caller = _app(scenario)
    reply = app.get(f"/api/namespaces/{scenario.namespace}/notebooks", caller)
    assert reply.status == 200, f"listing notebooks: {reply.summary()}"
    listed = {entry.get("name"): entry for entry in reply.body.get("notebooks") or []}
    entry = listed.get(scenario.name(name))
    assert entry is not None, f"the Jupyter web app does not list {scenario.name(name)}; it lists {sorted(listed)}"
    status = entry.get("status") or {}
    assert status.get("phase") == "ready", f"the Jupyter web app shows {scenario.name(name)} as {status}"
    scenario.attach(f"the Jupyter web app lists {scenario.name(name)}: {status}, image {entry.get('image')}")


def outsider_tries(scenario: Scenario) -> None:
    """A user without rights in the namespace lists its notebooks and tries to launch one there."""
    app, _me_caller = _app(scenario)
    outsider = _outsider(scenario)
    listing = app.get(f"/api/namespaces/{scenario.namespace}/notebooks", outsider)
    config = app.get("/api/config", outsider)  # any user the gateway names may read the form's configuration
    assert config.status == 200, f"{outsider.name} reading the launch form's configuration: {config.summary()}"
    body = launch_form(config.body["config"], scenario.name("outsider"), scenario.namespace,
                       scenario.settings.notebook_image, [])  # fmt: skip
    launching = app.post(f"/api/namespaces/{scenario.namespace}/notebooks", outsider, body)
    scenario.outcomes["outsider"] = (outsider, [listing, launching])


def _outsider(scenario: Scenario) -> Caller:
    settings = scenario.settings
    if settings.jupyter_web_app_token_file:
        if not settings.jupyter_web_app_other_token_file:
            raise Unavailable(
                "no token of a user of another namespace: give -u jupyter_web_app_other_token_file= (behind the "
                "platform's login the suite cannot name another user itself)"
            )
        token = _read_token(settings.jupyter_web_app_other_token_file, "jupyter_web_app_other_token_file")
        return Caller.by_token(token, f"the user of {settings.jupyter_web_app_other_token_file}")
    user = f"kfcheck-outsider-{scenario.suffix}@example.com"  # bound to nothing anywhere
    return Caller.by_header(user, settings.jupyter_web_app_userid_header, settings.jupyter_web_app_userid_prefix)


def check_outsider_refused(scenario: Scenario) -> None:
    """Both requests were answered 403 and no notebook was made for the outsider."""
    outsider, replies = scenario.outcomes["outsider"]
    for reply in replies:
        assert reply.status == 403, f"{outsider.name}: {reply.summary()} (expected 403)"
        assert reply.body.get("success") is False, f"{outsider.name}: {reply.summary()} does not say it failed"
    scenario.attach("\n".join(f"{outsider.name}: {reply.summary()}" for reply in replies))
    _check_not_made(scenario, scenario.name("outsider"))


def _check_not_made(scenario: Scenario, name: str) -> None:
    try:
        scenario.kube.custom.get_namespaced_custom_object("kubeflow.org", "v1", scenario.namespace, "notebooks", name)
    except ApiException as error:
        if error.status == 404:
            return
        raise
    scenario.created.append({"apiVersion": "kubeflow.org/v1", "kind": "Notebook", "metadata": {"name": name}})
    raise AssertionError(f"the refused launch made Notebook {scenario.namespace}/{name} anyway")
