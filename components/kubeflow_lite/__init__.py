"""Small implementations of Kubeflow's PodDefault webhook and notebook controller (see ../README.md)."""
