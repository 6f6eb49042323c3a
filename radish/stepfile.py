"""Step definitions: one row per sentence, each one call into kfcheck/ given the scenario (kfcheck/core/scenario.py).

A row is (keyword, sentence, call): radish matches the sentence, kfcheck.bdd.support.scenario_step turns radish's
step into the scenario, and the call gets the sentence's named fields ({name}, {workers}, ...) as keyword arguments.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from radish import given, then, when

# `radish features/` in a checkout imports the checkout's kfcheck/; installed from a wheel (kfcheck/bundled/radish/)
# these files import the installed kfcheck and add nothing to sys.path.
if (Path(__file__).resolve().parents[1] / "kfcheck" / "__init__.py").is_file():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kfcheck.bdd.support import register_steps
from kfcheck.core import capabilities
from kfcheck.kubeflow import (
    container_builder,
    helm,
    in_flight,
    in_flight_versions,
    in_flight_work,
    jupyter_web_app,
    jupyter_web_app_page,
    notebook,
    poddefault,
    pytorchjob,
    tfjob,
    trainjob,
)

RESOURCES_TABLE = "every Kubeflow component runs with these resources:"

register_steps([
    # --- PyTorchJob ---
    (given, "the Kubeflow training operator serves PyTorchJobs", capabilities.requirement(pytorchjob.API)),
    (when, 'I submit a PyTorchJob "{name}" that only reports its environment, with {workers:d} worker(s)',
     pytorchjob.submit_wiring_check),
    (when, 'I submit a PyTorchJob "{name}" training MNIST with {workers:d} worker', pytorchjob.submit_training),
    (then, 'the PyTorchJob "{name}" succeeds within the timeout', pytorchjob.wait_succeeded),
    (then, 'the PyTorchJob "{name}" succeeds within the training timeout',
     partial(pytorchjob.wait_succeeded, training=True)),
    (then, 'every replica pod of "{name}" has completed', pytorchjob.check_replicas_completed),
    (then, '"{name}" has a headless Service for each of its replicas', pytorchjob.check_services),
    (then, 'every replica of "{name}" was given MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK',
     pytorchjob.check_environment),
    (then, 'the master of "{name}" reports a test accuracy of at least the accepted minimum',
     pytorchjob.check_accuracy),
    # --- TFJob ---
    (given, "the Kubeflow training operator serves TFJobs", capabilities.requirement(tfjob.API)),
    (when, 'I submit a TFJob "{name}" that only reports its TF_CONFIG, with 1 parameter server and {workers:d} workers',
     tfjob.submit_wiring_check),
    (when, 'I submit a TFJob "{name}" training MNIST with 1 parameter server and {workers:d} workers',
     tfjob.submit_training),
    (then, 'the TFJob "{name}" succeeds within the timeout', tfjob.wait_succeeded),
    (then, 'the TFJob "{name}" succeeds within the training timeout', partial(tfjob.wait_succeeded, training=True)),
    (then, 'every replica of "{name}" was given a TF_CONFIG naming all replicas and its own task',
     tfjob.check_tf_config),
    (then, 'every worker of "{name}" reached the parameter server at the address its TF_CONFIG names',
     tfjob.check_workers_reached_ps),
    (then, 'every worker pod of "{name}" has completed', tfjob.check_workers_completed),
    (then, 'worker 0 of "{name}" reports a validation cross entropy and accuracy within the accepted limits',
     tfjob.check_results),
    # --- Kubeflow Trainer v2: TrainJob ---
    (given, "the cluster serves Kubeflow Trainer's TrainJob API", capabilities.requirement(trainjob.API)),
    (when, 'I submit a TrainJob "{name}" on the torch-distributed runtime that only checks its wiring, with {nodes:d} '
     "nodes", trainjob.submit_wiring_check),
    (when, 'I submit a TrainJob "{name}" on the torch-distributed runtime training MNIST with {nodes:d} nodes',
     trainjob.submit_training),
    (when, 'I submit a suspended TrainJob "{name}" on the torch-distributed runtime, with {nodes:d} nodes',
     partial(trainjob.submit_wiring_check, suspend=True)),
    (when, 'I submit a TrainJob "{name}" on the runtime "{runtime}"', trainjob.submit_with_unknown_runtime),
    (then, 'the TrainJob "{name}" completes within the timeout', trainjob.wait_complete),
    (then, 'the TrainJob "{name}" completes within the training timeout',
     partial(trainjob.wait_complete, training=True)),
    (then, 'the TrainJob "{name}" has a completed JobSet', trainjob.check_jobset),
    (then, "every node of \"{name}\" was given torchrun's PET_ variables and reached the others with gloo",
     trainjob.check_torchrun_environment),
    (then, 'node 0 of "{name}" reports a test accuracy of at least the accepted minimum', trainjob.check_accuracy),
    (then, 'the TrainJob "{name}" is refused or fails because runtime "{runtime}" is not found',
     trainjob.check_refused_for_runtime),
    (then, 'the TrainJob "{name}" reports itself suspended and runs no pod', trainjob.check_suspended),
    (when, 'I resume the TrainJob "{name}"', trainjob.resume),
    # --- Container Builder (Kaniko) ---
    (given, "a ReadWriteMany volume holding a Dockerfile that builds on the non-root base image",
     container_builder.prepare_context),
    (when, 'Kaniko builds the image "{name}" from the volume and pushes it to the registry',
     container_builder.build_and_push),
    (then, 'a pod running the image "{name}" prints the greeting as a non-root user',
     container_builder.run_built_image),
    # --- Helm upgrade of the Kubeflow components ---
    (given, "Helm manages the Kubeflow release", helm.require_release),
    (given, RESOURCES_TABLE, helm.check_resources),
    (then, RESOURCES_TABLE, helm.check_resources),
    (when, "I upgrade the Kubeflow release with these componentResources:", helm.upgrade_component_resources),
    (then, "the upgrade has rolled out to every component", helm.check_rolled_out),
    # --- PodDefault + Notebook ---
    (given, "the Kubeflow notebook controller and PodDefault webhook are available",
     capabilities.requirement(notebook.API, poddefault.API)),
    (given, "a ReadWriteMany volume and a Secret for the PodDefault", poddefault.create_secret_and_volume),
    (given, 'a PodDefault "{name}" that injects an env var, a secret-backed env var and the shared volume',
     poddefault.create),
    (given, 'a second PodDefault "{name}" for the same pods', poddefault.create_second),
    (given, 'a PodDefault "{name}" with an empty selector', poddefault.create_for_every_pod),
    (when, 'I create a Notebook "{name}" selected by the PodDefault', notebook.create_selected_by_poddefault),
    (then, 'the Notebook "{name}" becomes Ready', notebook.wait_ready),
    (then, 'the Notebook "{name}" serves JupyterLab under its NB_PREFIX from inside the cluster',
     notebook.check_serves_jupyterlab),
    (then, 'the pod of Notebook "{name}" carries what PodDefault "{poddefault_name}" injects', notebook.check_injected),
    (when, 'I stop the Notebook "{name}"', notebook.stop),
    (then, 'the Notebook "{name}" has no pod', notebook.wait_stopped),
    (when, 'I start the Notebook "{name}" again', notebook.start),
    (when, 'I create a pod "{name}" that the PodDefault does not select',
     partial(poddefault.create_pod, selected=False)),
    (when, 'I create a pod "{name}" that the PodDefault selects', partial(poddefault.create_pod, selected=True)),
    (when, 'I create a pod "{name}" that the PodDefault selects but that is annotated to be excluded',
     partial(poddefault.create_pod, selected=True, excluded=True)),
    (when, 'I create a pod "{name}" that the PodDefault selects but that sets {env_name} itself',
     poddefault.create_pod_expecting_refusal),
    (then, 'the pod "{name}" has nothing from any PodDefault', poddefault.check_untouched),
    (then, 'the pod "{name}" carries what PodDefault "{poddefault_name}" injects', poddefault.check_injected),
    (then, "the pod was refused because of the conflicting env var", poddefault.check_refused),
    # --- Kubeflow's Jupyter web app, as its browser frontend calls it ---
    (given, "the Jupyter web app serves my namespace", jupyter_web_app.serves_my_namespace),
    (when, "I list the configurations the Jupyter web app offers", jupyter_web_app.list_configurations),
    (then, 'the PodDefault "{poddefault_name}" is offered as a configuration', jupyter_web_app.check_offered),
    (when, 'I launch a notebook "{name}" from the Jupyter web app with the configuration of PodDefault '
     '"{poddefault_name}"', jupyter_web_app.launch),
    (then, 'the Jupyter web app lists the notebook "{name}" as ready', jupyter_web_app.check_listed_ready),
    (then, 'the Jupyter web app\'s own page of the notebook "{name}", rendered in a browser, shows it running',
     jupyter_web_app_page.check_page_shows_ready),
    (when, "a user without rights in my namespace lists and launches notebooks there through the Jupyter web app",
     jupyter_web_app.outsider_tries),
    (then, "the Jupyter web app refused both with 403 and made no notebook", jupyter_web_app.check_outsider_refused),
    # --- Work in flight through a Kubeflow release upgrade and its rollback (phases: kfcheck/kubeflow/in_flight.py) ---
    (given, "the release gate runs this scenario before the upgrade, after it and after the rollback",
     in_flight.enter),
    (given, "the cluster has served {kind}s since before the upgrade", in_flight_work.require_served),
    (when, "the Kubeflow release has been upgraded", in_flight.upgraded),
    (when, "the Kubeflow release has been rolled back", in_flight.rolled_back),
    (given, 'a PyTorchJob "{name}" training MNIST with {workers:d} worker was training before the upgrade',
     in_flight_work.pytorchjob_training),
    (given, 'a TFJob "{name}" training MNIST with 1 parameter server and {workers:d} workers was training before the '
     "upgrade", in_flight_work.tfjob_training),
    (given, 'a TrainJob "{name}" on the torch-distributed runtime training MNIST with {nodes:d} nodes was training '
     "before the upgrade", in_flight_work.trainjob_training),
    (then, 'the {kind} "{name}" succeeded in the pods it was training in before the upgrade',
     in_flight_work.check_trained_in_same_pods),
    (then, 'the TrainJob "{name}" completed in the pods it was training in before the upgrade',
     partial(in_flight_work.check_trained_in_same_pods, kind="TrainJob")),
    (given, 'a TrainJob "{name}" on the torch-distributed runtime, with {nodes:d} nodes, was suspended before the '
     "upgrade", in_flight_work.trainjob_suspended),
    (when, 'I resume the TrainJob "{name}", which the upgrade left suspended without a pod',
     in_flight_work.resume_trainjob),
    (then, 'the TrainJob "{name}" stays complete through the rollback, starting no new pod',
     in_flight_work.check_trainjob_stays_complete),
    (given, 'a PodDefault "{name}" made before the upgrade that injects an env var, a secret-backed env var and the '
     "shared volume", in_flight_work.poddefault_made),
    (given, 'a Notebook "{name}" selected by the PodDefault was Ready before the upgrade',
     in_flight_work.notebook_ready),
    (then, 'the Notebook "{name}" has stayed Ready in the same pod, without a restart, since before the upgrade',
     in_flight_work.check_notebook_stayed_ready),
    (then, 'a pod created now that PodDefault "{poddefault_name}" selects carries what it injects',
     in_flight_work.check_new_pod_injected),
    (given, 'a {kind} "{name}" was made before the upgrade', in_flight_versions.make_readable),
    (then, 'the {kind} "{name}" made before the upgrade reads back at every version its CRD serves',
     in_flight_versions.check_readable),
])  # fmt: skip
