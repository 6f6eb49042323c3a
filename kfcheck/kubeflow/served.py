"""Each Kubeflow API the suite checks and the controller or webhook that serves it: what a run reports at its
start (kfcheck.core.provenance, read by the radish terrain's before-all hook) and what the release gate reads
from the cluster itself when no run could (after a failed upgrade)."""

from __future__ import annotations

from kfcheck.core.capabilities import Api
from kfcheck.core.scenario import Controller
from kfcheck.kubeflow import jobs, notebook, poddefault, pytorchjob, tfjob, trainjob

# JobSet (jobset.x-k8s.io), which Trainer turns each TrainJob into; a release upgrades it with Trainer.
JOBSET_API = Api(f"{trainjob.JOBSET_GROUP}/{trainjob.JOBSET_VERSION}", "JobSet", "JobSet")

SERVED_APIS: list[tuple[Api, Controller]] = [
    (pytorchjob.API, jobs.TRAINING_OPERATOR),
    (tfjob.API, jobs.TRAINING_OPERATOR),
    (trainjob.API, trainjob.TRAINER),
    (JOBSET_API, trainjob.JOBSET),
    (notebook.API, notebook.CONTROLLER),
    (poddefault.API, poddefault.WEBHOOK),
]
