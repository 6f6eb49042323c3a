"""The Kubeflow modules: one per component, each with its API, its controller and the functions its steps
call; their fixtures (YAML templates) beside them in fixtures/."""
