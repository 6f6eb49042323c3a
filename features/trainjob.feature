@trainer
Feature: Distributed PyTorch training with Kubeflow Trainer's TrainJob
  As a data scientist on the platform
  I want TrainJobs on the torch-distributed runtime to train models across several nodes
  So that Kubeflow Trainer v2 works the same before and after every upgrade

  Background:
    Given the cluster serves Kubeflow Trainer's TrainJob API

  @smoke @jobset
  Scenario: Trainer wires 2 nodes together for torchrun
    When I submit a TrainJob "wiring" on the torch-distributed runtime that only checks its wiring, with 2 nodes
    Then the TrainJob "wiring" completes within the timeout
    And the TrainJob "wiring" has a completed JobSet
    And every node of "wiring" was given torchrun's PET_ variables and reached the others with gloo

  @slow
  Scenario: 2 nodes train MNIST with torchrun and the gloo backend
    When I submit a TrainJob "mnist" on the torch-distributed runtime training MNIST with 2 nodes
    Then the TrainJob "mnist" completes within the training timeout
    And node 0 of "mnist" reports a test accuracy of at least the accepted minimum

  Scenario: A TrainJob naming a runtime that does not exist does not run
    When I submit a TrainJob "orphan" on the runtime "kfcheck-no-such-runtime"
    Then the TrainJob "orphan" is refused or fails because runtime "kfcheck-no-such-runtime" is not found

  @jobset
  Scenario: A suspended TrainJob runs no pod until it is resumed
    When I submit a suspended TrainJob "paused" on the torch-distributed runtime, with 2 nodes
    Then the TrainJob "paused" reports itself suspended and runs no pod
    When I resume the TrainJob "paused"
    Then the TrainJob "paused" completes within the timeout
    And every node of "paused" was given torchrun's PET_ variables and reached the others with gloo
