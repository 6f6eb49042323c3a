"""Step definitions: each sentence is one call into kfcheck/, given the scenario (kfcheck/scenario.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from radish import given, then, when

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's kfcheck/ for `radish features/`

from kfcheck import capabilities, container_builder, helm, notebook, poddefault, pytorchjob, tfjob, trainjob
from kfcheck.radish_support import scenario_step

# --- PyTorchJob ------------------------------------------------------------------------------------


@given("the Kubeflow training operator serves PyTorchJobs")
@scenario_step
def pytorchjobs_served(scenario):
    capabilities.require(scenario.kube, pytorchjob.API)


@when('I submit a PyTorchJob "{name}" that only reports its environment, with {workers:d} worker(s)')
@scenario_step
def submit_pytorch_wiring(scenario, name, workers):
    pytorchjob.submit_wiring_check(scenario, name, workers)


@when('I submit a PyTorchJob "{name}" training MNIST with {workers:d} worker')
@scenario_step
def submit_pytorch_training(scenario, name, workers):
    pytorchjob.submit_training(scenario, name, workers)


@then('the PyTorchJob "{name}" succeeds within the timeout')
@scenario_step
def pytorchjob_succeeds(scenario, name):
    pytorchjob.wait_succeeded(scenario, name)


@then('the PyTorchJob "{name}" succeeds within the training timeout')
@scenario_step
def pytorchjob_trains(scenario, name):
    pytorchjob.wait_succeeded(scenario, name, training=True)


@then('every replica pod of "{name}" has completed')
@scenario_step
def pytorch_replicas_completed(scenario, name):
    pytorchjob.check_replicas_completed(scenario, name)


@then('"{name}" has a headless Service for each of its replicas')
@scenario_step
def pytorch_services(scenario, name):
    pytorchjob.check_services(scenario, name)


@then('every replica of "{name}" was given MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK')
@scenario_step
def pytorch_environment(scenario, name):
    pytorchjob.check_environment(scenario, name)


@then('the master of "{name}" reports a test accuracy of at least the accepted minimum')
@scenario_step
def pytorch_accuracy(scenario, name):
    pytorchjob.check_accuracy(scenario, name)


# --- TFJob -----------------------------------------------------------------------------------------


@given("the Kubeflow training operator serves TFJobs")
@scenario_step
def tfjobs_served(scenario):
    capabilities.require(scenario.kube, tfjob.API)


@when('I submit a TFJob "{name}" that only reports its TF_CONFIG, with 1 parameter server and {workers:d} workers')
@scenario_step
def submit_tf_wiring(scenario, name, workers):
    tfjob.submit_wiring_check(scenario, name, workers)


@when('I submit a TFJob "{name}" training MNIST with 1 parameter server and {workers:d} workers')
@scenario_step
def submit_tf_training(scenario, name, workers):
    tfjob.submit_training(scenario, name, workers)


@then('the TFJob "{name}" succeeds within the timeout')
@scenario_step
def tfjob_succeeds(scenario, name):
    tfjob.wait_succeeded(scenario, name)


@then('the TFJob "{name}" succeeds within the training timeout')
@scenario_step
def tfjob_trains(scenario, name):
    tfjob.wait_succeeded(scenario, name, training=True)


@then('every replica of "{name}" was given a TF_CONFIG naming all replicas and its own task')
@scenario_step
def tf_config(scenario, name):
    tfjob.check_tf_config(scenario, name)


@then('every worker of "{name}" reached the parameter server at the address its TF_CONFIG names')
@scenario_step
def tf_workers_reached_ps(scenario, name):
    tfjob.check_workers_reached_ps(scenario, name)


@then('every worker pod of "{name}" has completed')
@scenario_step
def tf_workers_completed(scenario, name):
    tfjob.check_workers_completed(scenario, name)


@then('worker 0 of "{name}" reports a validation cross entropy and accuracy within the accepted limits')
@scenario_step
def tf_results(scenario, name):
    tfjob.check_results(scenario, name)


# --- TrainJob (Kubeflow Trainer v2) -----------------------------------------------------------------


@given("the cluster serves Kubeflow Trainer's TrainJob API")
@scenario_step
def trainer_api_served(scenario):
    capabilities.require(scenario.kube, trainjob.API)


@when('I submit a TrainJob "{name}" on the torch-distributed runtime that only checks its wiring, with {nodes:d} nodes')
@scenario_step
def submit_trainjob_wiring(scenario, name, nodes):
    trainjob.submit_wiring_check(scenario, name, nodes)


@when('I submit a TrainJob "{name}" on the torch-distributed runtime training MNIST with {nodes:d} nodes')
@scenario_step
def submit_trainjob_training(scenario, name, nodes):
    trainjob.submit_training(scenario, name, nodes)


@when('I submit a suspended TrainJob "{name}" on the torch-distributed runtime, with {nodes:d} nodes')
@scenario_step
def submit_trainjob_suspended(scenario, name, nodes):
    trainjob.submit_wiring_check(scenario, name, nodes, suspend=True)


@when('I submit a TrainJob "{name}" on the runtime "{runtime}"')
@scenario_step
def submit_trainjob_unknown_runtime(scenario, name, runtime):
    trainjob.submit_with_unknown_runtime(scenario, name, runtime)


@then('the TrainJob "{name}" completes within the timeout')
@scenario_step
def trainjob_completes(scenario, name):
    trainjob.wait_complete(scenario, name)


@then('the TrainJob "{name}" completes within the training timeout')
@scenario_step
def trainjob_trains(scenario, name):
    trainjob.wait_complete(scenario, name, training=True)


@then('the TrainJob "{name}" has a completed JobSet')
@scenario_step
def trainjob_jobset(scenario, name):
    trainjob.check_jobset(scenario, name)


@then('every node of "{name}" was given torchrun\'s PET_ variables and reached the others with gloo')
@scenario_step
def trainjob_wiring(scenario, name):
    trainjob.check_torchrun_environment(scenario, name)


@then('node 0 of "{name}" reports a test accuracy of at least the accepted minimum')
@scenario_step
def trainjob_accuracy(scenario, name):
    trainjob.check_accuracy(scenario, name)


@then('the TrainJob "{name}" is refused or fails because runtime "{runtime}" is not found')
@scenario_step
def trainjob_refused(scenario, name, runtime):
    trainjob.check_refused_for_runtime(scenario, name, runtime)


@then('the TrainJob "{name}" reports itself suspended and runs no pod')
@scenario_step
def trainjob_suspended(scenario, name):
    trainjob.check_suspended(scenario, name)


@when('I resume the TrainJob "{name}"')
@scenario_step
def trainjob_resume(scenario, name):
    trainjob.resume(scenario, name)


# --- Container Builder (Kaniko) ----------------------------------------------------------------------


@given("a ReadWriteMany volume holding a Dockerfile that builds on the non-root base image")
@scenario_step
def build_context(scenario):
    container_builder.prepare_context(scenario)


@when('Kaniko builds the image "{name}" from the volume and pushes it to the registry')
@scenario_step
def kaniko_build(scenario, name):
    container_builder.build_and_push(scenario, name)


@then('a pod running the image "{name}" prints the greeting as a non-root user')
@scenario_step
def run_built_image(scenario, name):
    container_builder.run_built_image(scenario, name)


# --- Helm upgrade -----------------------------------------------------------------------------------


@given("Helm manages the Kubeflow release")
@scenario_step
def helm_manages_kubeflow(scenario):
    helm.require_release(scenario.settings)


@given("every Kubeflow component runs with these resources:")
@then("every Kubeflow component runs with these resources:")
@scenario_step
def components_have_resources(scenario):
    helm.check_resources(scenario, scenario.step.table)


@when("I upgrade the Kubeflow release with these componentResources:")
@scenario_step
def upgrade_release(scenario):
    helm.upgrade_component_resources(scenario, scenario.step.table)


@then("the upgrade has rolled out to every component")
@scenario_step
def upgrade_rolled_out(scenario):
    helm.check_rolled_out(scenario)


# --- PodDefault + Notebook --------------------------------------------------------------------------


@given("the Kubeflow notebook controller and PodDefault webhook are available")
@scenario_step
def notebook_components_available(scenario):
    capabilities.require(scenario.kube, notebook.API, poddefault.API)


@given("a ReadWriteMany volume and a Secret for the PodDefault")
@scenario_step
def poddefault_volume_and_secret(scenario):
    poddefault.create_secret_and_volume(scenario)


@given('a PodDefault "{name}" that injects an env var, a secret-backed env var and the shared volume')
@scenario_step
def create_poddefault(scenario, name):
    poddefault.create(scenario, name)


@given('a second PodDefault "{name}" for the same pods')
@scenario_step
def create_second_poddefault(scenario, name):
    poddefault.create_second(scenario, name)


@when('I create a Notebook "{name}" selected by the PodDefault')
@scenario_step
def create_notebook(scenario, name):
    notebook.create_selected_by_poddefault(scenario, name)


@then('the Notebook "{name}" becomes Ready')
@scenario_step
def notebook_ready(scenario, name):
    notebook.wait_ready(scenario, name)


@then('the Notebook "{name}" serves JupyterLab under its NB_PREFIX from inside the cluster')
@scenario_step
def notebook_serves(scenario, name):
    notebook.check_serves_jupyterlab(scenario, name)


@then('the pod of Notebook "{name}" carries what PodDefault "{poddefault_name}" injects')
@scenario_step
def notebook_pod_injected(scenario, name, poddefault_name):
    notebook.check_injected(scenario, name, poddefault_name)


@when('I create a pod "{name}" that the PodDefault does not select')
@scenario_step
def create_unselected_pod(scenario, name):
    poddefault.create_pod(scenario, name, selected=False)


@when('I create a pod "{name}" that the PodDefault selects')
@scenario_step
def create_selected_pod(scenario, name):
    poddefault.create_pod(scenario, name, selected=True)


@then('the pod "{name}" has nothing from any PodDefault')
@scenario_step
def pod_untouched(scenario, name):
    poddefault.check_untouched(scenario, poddefault.pod(scenario, name))


@then('the pod "{name}" carries what PodDefault "add-secret" injects')
@scenario_step
def pod_injected(scenario, name):
    poddefault.check_injected(scenario, poddefault.pod(scenario, name), ["add-secret"])


@then('the pod "{name}" carries what PodDefault "team-metadata" injects')
@scenario_step
def pod_second_injected(scenario, name):
    poddefault.check_second_applied(scenario, poddefault.pod(scenario, name), "team-metadata")


@when('I create a pod "{name}" that the PodDefault selects but that sets POD_DEFAULT itself')
@scenario_step
def create_conflicting_pod(scenario, name):
    poddefault.create_pod_expecting_refusal(scenario, name)


@then("the pod was refused because of the conflicting env var")
@scenario_step
def pod_refused(scenario):
    poddefault.check_refused(scenario)


@given('a PodDefault "{name}" with an empty selector')
@scenario_step
def create_poddefault_for_every_pod(scenario, name):
    poddefault.create_for_every_pod(scenario, name)


@then('the pod "{name}" carries what PodDefault "everyone" injects')
@scenario_step
def pod_everyone_injected(scenario, name):
    poddefault.check_everyone_applied(scenario, poddefault.pod(scenario, name), "everyone")


@when('I create a pod "{name}" that the PodDefault selects but that is annotated to be excluded')
@scenario_step
def create_excluded_pod(scenario, name):
    poddefault.create_pod(scenario, name, selected=True, excluded=True)


@when('I stop the Notebook "{name}"')
@scenario_step
def stop_notebook(scenario, name):
    notebook.stop(scenario, name)


@then('the Notebook "{name}" has no pod')
@scenario_step
def notebook_stopped(scenario, name):
    notebook.wait_stopped(scenario, name)


@when('I start the Notebook "{name}" again')
@scenario_step
def start_notebook(scenario, name):
    notebook.start(scenario, name)
