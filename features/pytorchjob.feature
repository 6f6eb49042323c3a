@pytorch
Feature: Distributed PyTorch training with PyTorchJob
  As a data scientist on the platform
  I want PyTorchJobs to train models across several pods
  So that distributed training works the same before and after every upgrade

  Background:
    Given the Kubeflow training operator serves PyTorchJobs

  @smoke
  Scenario Outline: The operator wires a master and <workers> worker(s) together
    When I submit a PyTorchJob "wiring" that only reports its environment, with <workers> worker(s)
    Then the PyTorchJob "wiring" succeeds within the timeout
    And every replica pod of "wiring" has completed
    And "wiring" has a headless Service for each of its replicas
    And every replica of "wiring" was given MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK

    Examples:
      | workers |
      | 1       |
      | 2       |

  @slow
  Scenario: A master and a worker train MNIST with the gloo backend
    When I submit a PyTorchJob "mnist" training MNIST with 1 worker
    Then the PyTorchJob "mnist" succeeds within the training timeout
    And every replica pod of "mnist" has completed
    And the master of "mnist" reports a test accuracy of at least the accepted minimum
