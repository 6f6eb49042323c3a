"""The release gate across a Kubeflow upgrade and its rollback (`python -m kfcheck release-gate`): `sequence`
(the order of the runs and commands, the record, the report), `arguments` (each run's radish arguments),
`processes` (`kfcheck run` and the user's upgrade and rollback commands as child processes), `crds` (whether a
rollback can read what the upgrade stored), `cluster` (what the gate reads from the cluster itself, and the sweep
of what the in-flight feature left). The upgrade and the rollback are the user's commands: nothing here knows
how a cluster or a release is made."""
