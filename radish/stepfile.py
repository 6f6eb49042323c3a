"""Step definitions: each sentence is one or two calls into kfcheck/."""

from __future__ import annotations

import sys
from pathlib import Path

from radish import given, then, when, world

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's kfcheck/ for `radish features/`

from kfcheck import container_builder, helm, notebook, poddefault, pytorchjob, tfjob
from kfcheck.kube import require_crds
from kfcheck.radish_support import scenario_step

NOTEBOOK_CRDS = {"notebooks.kubeflow.org": "Notebook", "poddefaults.kubeflow.org": "PodDefault"}


def _ns(step) -> str:
    return step.context.namespace


@given("the Kubeflow training operator is available")
@scenario_step
def training_operator_available(step):
    require_crds(world.kube)


# --- PyTorchJob ------------------------------------------------------------------------------------


@when('I submit a PyTorchJob "{name}" that only reports its environment, with {workers:d} worker(s)')
@scenario_step
def submit_pytorch_wiring(step, name, workers):
    step.context.workers = workers
    pytorchjob.submit_wiring_check(world.kube, world.settings, _ns(step), name, workers)


@when('I submit a PyTorchJob "{name}" training MNIST with {workers:d} worker')
@scenario_step
def submit_pytorch_training(step, name, workers):
    step.context.workers = workers
    pytorchjob.submit_training(world.kube, world.settings, _ns(step), name, workers)


@then('the PyTorchJob "{name}" succeeds within the timeout')
@scenario_step
def pytorchjob_succeeds(step, name):
    pytorchjob.wait_succeeded(world.kube, _ns(step), name, world.settings.timeout)


@then('the PyTorchJob "{name}" succeeds within the training timeout')
@scenario_step
def pytorchjob_trains(step, name):
    pytorchjob.wait_succeeded(world.kube, _ns(step), name, world.settings.training_timeout)


@then('every replica pod of "{name}" has completed')
@scenario_step
def pytorch_replicas_completed(step, name):
    pytorchjob.check_replicas_completed(world.kube, _ns(step), name, step.context.workers, world.settings.timeout)


@then('"{name}" has a headless Service for each of its replicas')
@scenario_step
def pytorch_services(step, name):
    pytorchjob.check_services(world.kube, _ns(step), name, step.context.workers)


@then('every replica of "{name}" was given MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK')
@scenario_step
def pytorch_environment(step, name):
    pytorchjob.check_environment(world.kube, _ns(step), name, step.context.workers)


@then('the master of "{name}" reports a test accuracy of at least the accepted minimum')
@scenario_step
def pytorch_accuracy(step, name):
    accuracy = pytorchjob.check_accuracy(world.kube, _ns(step), name, world.settings.pytorch_min_accuracy)
    step.embed(f"accuracy={accuracy:.4f} (minimum {world.settings.pytorch_min_accuracy})")


# --- TFJob -----------------------------------------------------------------------------------------


@when('I submit a TFJob "{name}" that only reports its TF_CONFIG, with 1 parameter server and {workers:d} workers')
@scenario_step
def submit_tf_wiring(step, name, workers):
    step.context.workers = workers
    tfjob.submit_wiring_check(world.kube, world.settings, _ns(step), name, workers)


@when('I submit a TFJob "{name}" training MNIST with 1 parameter server and {workers:d} workers')
@scenario_step
def submit_tf_training(step, name, workers):
    step.context.workers = workers
    tfjob.submit_training(world.kube, world.settings, _ns(step), name, workers)


@then('the TFJob "{name}" succeeds within the timeout')
@scenario_step
def tfjob_succeeds(step, name):
    tfjob.wait_succeeded(world.kube, _ns(step), name, world.settings.timeout)


@then('the TFJob "{name}" succeeds within the training timeout')
@scenario_step
def tfjob_trains(step, name):
    tfjob.wait_succeeded(world.kube, _ns(step), name, world.settings.training_timeout)


@then('every replica of "{name}" was given a TF_CONFIG naming all replicas and its own task')
@scenario_step
def tf_config(step, name):
    tfjob.check_tf_config(world.kube, _ns(step), name, step.context.workers)


@then('every worker pod of "{name}" has completed')
@scenario_step
def tf_workers_completed(step, name):
    tfjob.check_workers_completed(world.kube, _ns(step), name, step.context.workers, world.settings.timeout)


@then('worker 0 of "{name}" reports a validation cross entropy and accuracy within the accepted limits')
@scenario_step
def tf_results(step, name):
    settings = world.settings
    results = tfjob.check_results(world.kube, _ns(step), name, settings.tf_max_cross_entropy, settings.tf_min_accuracy)
    step.embed(
        f"validation_cross_entropy={results['cross_entropy']:.4f} (max {settings.tf_max_cross_entropy}) "
        f"accuracy={results['accuracy']:.4f} (min {settings.tf_min_accuracy})"
    )


# --- Container Builder (Kaniko) ----------------------------------------------------------------------


@given("a ReadWriteMany volume holding a Dockerfile that builds on the non-root base image")
@scenario_step
def build_context(step):
    container_builder.prepare_context(world.kube, world.settings, _ns(step))


@when('Kaniko builds the image "{name}" from the volume and pushes it to the registry')
@scenario_step
def kaniko_build(step, name):
    image = container_builder.build_and_push(world.kube, world.settings, _ns(step), name)
    step.embed(f"pushed {image}")


@then('a pod running the image "{name}" prints the greeting as a non-root user')
@scenario_step
def run_built_image(step, name):
    output = container_builder.run_built_image(world.kube, world.settings, _ns(step), name)
    container_builder.check_output(output, _ns(step))


# --- Helm upgrade -----------------------------------------------------------------------------------


@given("every Kubeflow component runs with these resources:")
@then("every Kubeflow component runs with these resources:")
@scenario_step
def components_have_resources(step):
    helm.check_resources(world.kube, world.settings, helm.parse_table(step.table))


@when("I upgrade the Kubeflow release with these componentResources:")
@scenario_step
def upgrade_release(step):
    step.context.cleanups.append(lambda: helm.restore_defaults(world.settings))  # the suite leaves it as found
    helm.upgrade_resources(world.settings, helm.parse_table(step.table))


@then("the upgrade has rolled out to every component")
@scenario_step
def upgrade_rolled_out(step):
    helm.check_rolled_out(world.kube, world.settings)


# --- PodDefault + Notebook --------------------------------------------------------------------------


@given("the Kubeflow notebook controller and PodDefault webhook are available")
@scenario_step
def notebook_components_available(step):
    require_crds(world.kube, NOTEBOOK_CRDS)


@given("a ReadWriteMany volume and a Secret for the PodDefault")
@scenario_step
def poddefault_volume_and_secret(step):
    poddefault.create_secret_and_volume(world.kube, world.settings, _ns(step))


@given('a PodDefault "{name}" that injects an env var, a secret-backed env var and the shared volume')
@scenario_step
def create_poddefault(step, name):
    poddefault.create(world.kube, _ns(step), name)


@given('a second PodDefault "{name}" for the same pods')
@scenario_step
def create_second_poddefault(step, name):
    poddefault.create_second(world.kube, _ns(step), name)


@when('I create a Notebook "{name}" selected by the PodDefault')
@scenario_step
def create_notebook(step, name):
    notebook.create(world.kube, world.settings, _ns(step), name, {poddefault.LABEL: "true"})


@then('the Notebook "{name}" becomes Ready')
@scenario_step
def notebook_ready(step, name):
    notebook.wait_ready(world.kube, world.settings, _ns(step), name)


@then('the Notebook "{name}" serves JupyterLab under its NB_PREFIX from inside the cluster')
@scenario_step
def notebook_serves(step, name):
    step.embed("HTTP 200 from " + notebook.check_serves_jupyterlab(world.kube, world.settings, _ns(step), name))


@then('the pod of Notebook "{name}" carries what PodDefault "{poddefault_name}" injects')
@scenario_step
def notebook_pod_injected(step, name, poddefault_name):
    server = notebook.server_pod(world.kube, _ns(step), name)
    notebook.check_prefix_env(server, _ns(step), name)
    poddefault.check_injected(server, [poddefault_name])


@when('I create a pod "{name}" that the PodDefault does not select')
@scenario_step
def create_unselected_pod(step, name):
    poddefault.create_pod(world.kube, world.settings, _ns(step), name, selected=False)


@when('I create a pod "{name}" that the PodDefault selects')
@scenario_step
def create_selected_pod(step, name):
    poddefault.create_pod(world.kube, world.settings, _ns(step), name, selected=True)


@then('the pod "{name}" has nothing from any PodDefault')
@scenario_step
def pod_untouched(step, name):
    poddefault.check_untouched(poddefault.pod(world.kube, _ns(step), name))


@then('the pod "{name}" carries what PodDefault "add-secret" injects')
@scenario_step
def pod_injected(step, name):
    poddefault.check_injected(poddefault.pod(world.kube, _ns(step), name), ["add-secret"])


@then('the pod "{name}" carries what PodDefault "team-metadata" injects')
@scenario_step
def pod_second_injected(step, name):
    poddefault.check_second_applied(poddefault.pod(world.kube, _ns(step), name), "team-metadata")


@when('I create a pod "{name}" that the PodDefault selects but that sets POD_DEFAULT itself')
@scenario_step
def create_conflicting_pod(step, name):
    step.context.refusal = poddefault.create_pod_expecting_refusal(world.kube, world.settings, _ns(step), name)


@then('the pod was refused because it conflicts with PodDefault "{poddefault_name}" on the env var')
@scenario_step
def pod_refused(step, poddefault_name):
    poddefault.check_refused_for_conflict(step.context.refusal, poddefault_name)


@given('a PodDefault "{name}" with an empty selector')
@scenario_step
def create_poddefault_for_every_pod(step, name):
    poddefault.create_for_every_pod(world.kube, _ns(step), name)


@then('the pod "{name}" carries what PodDefault "everyone" injects')
@scenario_step
def pod_everyone_injected(step, name):
    poddefault.check_everyone_applied(poddefault.pod(world.kube, _ns(step), name), "everyone")


@when('I create a pod "{name}" that the PodDefault selects but that is annotated to be excluded')
@scenario_step
def create_excluded_pod(step, name):
    poddefault.create_pod(world.kube, world.settings, _ns(step), name, selected=True, excluded=True)


@when('I stop the Notebook "{name}"')
@scenario_step
def stop_notebook(step, name):
    notebook.stop(world.kube, _ns(step), name)


@then('the Notebook "{name}" has no pod')
@scenario_step
def notebook_stopped(step, name):
    notebook.wait_stopped(world.kube, world.settings, _ns(step), name)


@when('I start the Notebook "{name}" again')
@scenario_step
def start_notebook(step, name):
    notebook.start(world.kube, _ns(step), name)
