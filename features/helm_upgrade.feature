@helm-upgrade @slow
Feature: Upgrading the Kubeflow components with Helm
  As a platform engineer
  I want to change the resources of every Kubeflow component with a Helm upgrade
  So that jobs get the capacity they need, and training still works afterwards

  Background:
    Given Helm manages the Kubeflow release
    And the Kubeflow training operator serves PyTorchJobs

  Scenario: An upgrade of componentResources rolls out to every component and training still works
    Given every Kubeflow component runs with these resources:
      | kind     | cpu  | memory |
      | requests | 50m  | 128Mi  |
      | limits   | 500m | 1Gi    |
    When I upgrade the Kubeflow release with these componentResources:
      | kind     | cpu  | memory |
      | requests | 100m | 256Mi  |
      | limits   | 1    | 2Gi    |
    Then the upgrade has rolled out to every component
    And every Kubeflow component runs with these resources:
      | kind     | cpu  | memory |
      | requests | 100m | 256Mi  |
      | limits   | 1    | 2Gi    |
    When I submit a PyTorchJob "after-upgrade" that only reports its environment, with 1 worker(s)
    Then the PyTorchJob "after-upgrade" succeeds within the timeout
    And every replica of "after-upgrade" was given MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK
