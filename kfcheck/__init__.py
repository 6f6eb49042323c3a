"""kfcheck: behaviour-driven validation of Kubeflow on Kubernetes."""
