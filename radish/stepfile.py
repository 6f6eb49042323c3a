"""Step definitions: each sentence is one or two calls into kfcheck/."""

from __future__ import annotations

import sys
from pathlib import Path

from radish import given, then, when, world

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's kfcheck/ for `radish features/`

from kfcheck import container_builder, helm, notebook, poddefault, pytorchjob, tfjob, trainjob
from kfcheck.kube import require_crds
from kfcheck.radish_support import scenario_step, skip_scenario

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


# --- TrainJob (Kubeflow Trainer v2) -----------------------------------------------------------------


@given("the cluster serves Kubeflow Trainer's TrainJob API")
@scenario_step
def trainer_api_served(step):
    if not trainjob.api_served(world.kube):
        skip_scenario(step, f"the cluster serves no {trainjob.GROUP}/{trainjob.VERSION} API (Kubeflow Trainer v2)")


@when('I submit a TrainJob "{name}" on the torch-distributed runtime that only checks its wiring, with {nodes:d} nodes')
@scenario_step
def submit_trainjob_wiring(step, name, nodes):
    step.context.nodes = nodes
    trainjob.submit_wiring_check(world.kube, world.settings, _ns(step), name, nodes)


@when('I submit a TrainJob "{name}" on the torch-distributed runtime training MNIST with {nodes:d} nodes')
@scenario_step
def submit_trainjob_training(step, name, nodes):
    step.context.nodes = nodes
    trainjob.submit_training(world.kube, world.settings, _ns(step), name, nodes)


@when('I submit a suspended TrainJob "{name}" on the torch-distributed runtime, with {nodes:d} nodes')
@scenario_step
def submit_trainjob_suspended(step, name, nodes):
    step.context.nodes = nodes
    trainjob.submit_wiring_check(world.kube, world.settings, _ns(step), name, nodes, suspend=True)


@when('I submit a TrainJob "{name}" on the runtime "{runtime}"')
@scenario_step
def submit_trainjob_unknown_runtime(step, name, runtime):
    step.context.outcome = trainjob.submit_with_unknown_runtime(world.kube, world.settings, _ns(step), name, runtime)


@then('the TrainJob "{name}" completes within the timeout')
@scenario_step
def trainjob_completes(step, name):
    trainjob.wait_complete(world.kube, _ns(step), name, world.settings.timeout)


@then('the TrainJob "{name}" completes within the training timeout')
@scenario_step
def trainjob_trains(step, name):
    trainjob.wait_complete(world.kube, _ns(step), name, world.settings.training_timeout)


@then('the TrainJob "{name}" has a completed JobSet')
@scenario_step
def trainjob_jobset(step, name):
    trainjob.check_jobset(world.kube, _ns(step), name)


@then('every node of "{name}" was given torchrun\'s PET_ variables and reached the others with gloo')
@scenario_step
def trainjob_wiring(step, name):
    trainjob.check_torchrun_environment(world.kube, _ns(step), name, step.context.nodes)


@then('node 0 of "{name}" reports a test accuracy of at least the accepted minimum')
@scenario_step
def trainjob_accuracy(step, name):
    accuracy = trainjob.check_accuracy(world.kube, _ns(step), name, world.settings.pytorch_min_accuracy)
    step.embed(f"accuracy={accuracy:.4f} (minimum {world.settings.pytorch_min_accuracy})")


@then('the TrainJob "{name}" is refused or fails because runtime "{runtime}" is not found')
@scenario_step
def trainjob_refused(step, name, runtime):
    cause = trainjob.refusal_cause(world.kube, _ns(step), name, step.context.outcome, world.settings.timeout)
    trainjob.check_refused_for_runtime(cause, runtime)
    step.embed(cause)


@then('the TrainJob "{name}" reports itself suspended and runs no pod')
@scenario_step
def trainjob_suspended(step, name):
    trainjob.wait_suspended(world.kube, _ns(step), name, world.settings.timeout)
    trainjob.check_nothing_runs(world.kube, _ns(step), name)


@when('I resume the TrainJob "{name}"')
@scenario_step
def trainjob_resume(step, name):
    trainjob.resume(world.kube, _ns(step), name)


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


@then("the pod was refused because of the conflicting env var")
@scenario_step
def pod_refused(step):
    assert "env var 'POD_DEFAULT' from PodDefault add-secret conflicts" in step.context.refusal, step.context.refusal
