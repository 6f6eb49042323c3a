@upgrade
Feature: Work in flight through a Kubeflow release upgrade and its rollback
  As a platform engineer upgrading Kubeflow
  I want the training jobs, notebook servers and PodDefaults of my users to come through the replacement of
  Kubeflow's controllers, and through a rollback, as if nothing had happened
  So that an upgrade needs no maintenance window and a rollback loses no one's work

  The release gate runs this feature three times: just before the upgrade (-u upgrade_phase=start), after it
  (after) and after the rollback (rollback). What a scenario makes before "the Kubeflow release has been
  upgraded" is kept in the cluster and found again by the later phases; its checks are checked again in every
  later phase.

  Background:
    Given the release gate runs this scenario before the upgrade, after it and after the rollback

  Scenario: A PyTorchJob training while the controllers are replaced succeeds with the accepted accuracy
    Given the cluster has served PyTorchJobs since before the upgrade
    And a PyTorchJob "pytorch-mnist" training MNIST with 1 worker was training before the upgrade
    When the Kubeflow release has been upgraded
    Then the PyTorchJob "pytorch-mnist" succeeds within the training timeout
    And the PyTorchJob "pytorch-mnist" succeeded in the pods it was training in before the upgrade
    And the master of "pytorch-mnist" reports a test accuracy of at least the accepted minimum
    When the Kubeflow release has been rolled back
    Then the PyTorchJob "pytorch-mnist" succeeded in the pods it was training in before the upgrade

  Scenario: A TFJob training while the controllers are replaced succeeds within the accepted limits
    Given the cluster has served TFJobs since before the upgrade
    And a TFJob "tf-mnist" training MNIST with 1 parameter server and 2 workers was training before the upgrade
    When the Kubeflow release has been upgraded
    Then the TFJob "tf-mnist" succeeds within the training timeout
    And the TFJob "tf-mnist" succeeded in the pods it was training in before the upgrade
    And worker 0 of "tf-mnist" reports a validation cross entropy and accuracy within the accepted limits
    When the Kubeflow release has been rolled back
    Then the TFJob "tf-mnist" succeeded in the pods it was training in before the upgrade

  Scenario: A TrainJob training while the controllers are replaced completes with the accepted accuracy
    Given the cluster has served TrainJobs since before the upgrade
    And a TrainJob "trainjob-mnist" on the torch-distributed runtime training MNIST with 2 nodes was training before the upgrade
    When the Kubeflow release has been upgraded
    Then the TrainJob "trainjob-mnist" completes within the training timeout
    And the TrainJob "trainjob-mnist" completed in the pods it was training in before the upgrade
    And node 0 of "trainjob-mnist" reports a test accuracy of at least the accepted minimum
    When the Kubeflow release has been rolled back
    Then the TrainJob "trainjob-mnist" completed in the pods it was training in before the upgrade

  @jobset
  Scenario: A TrainJob suspended before the upgrade is resumed after it and completes
    Given the cluster has served TrainJobs since before the upgrade
    And a TrainJob "paused" on the torch-distributed runtime, with 2 nodes, was suspended before the upgrade
    When the Kubeflow release has been upgraded
    And I resume the TrainJob "paused", which the upgrade left suspended without a pod
    Then the TrainJob "paused" completes within the timeout
    And every node of "paused" was given torchrun's PET_ variables and reached the others with gloo
    When the Kubeflow release has been rolled back
    Then the TrainJob "paused" stays complete through the rollback, starting no new pod

  Scenario: A notebook server Ready before the upgrade stays Ready in the same pod, with what its PodDefault injected
    Given the cluster has served Notebooks since before the upgrade
    And the cluster has served PodDefaults since before the upgrade
    And a PodDefault "add-secret" made before the upgrade that injects an env var, a secret-backed env var and the shared volume
    And a Notebook "notebook" selected by the PodDefault was Ready before the upgrade
    Then the pod of Notebook "notebook" carries what PodDefault "add-secret" injects
    When the Kubeflow release has been upgraded
    Then the Notebook "notebook" has stayed Ready in the same pod, without a restart, since before the upgrade
    And the pod of Notebook "notebook" carries what PodDefault "add-secret" injects
    When the Kubeflow release has been rolled back
    Then the Notebook "notebook" has stayed Ready in the same pod, without a restart, since before the upgrade
    And the pod of Notebook "notebook" carries what PodDefault "add-secret" injects

  Scenario: A PodDefault made before the upgrade applies to pods created after it and after the rollback
    Given the cluster has served PodDefaults since before the upgrade
    And a PodDefault "add-secret" made before the upgrade that injects an env var, a secret-backed env var and the shared volume
    When the Kubeflow release has been upgraded
    Then a pod created now that PodDefault "add-secret" selects carries what it injects
    When the Kubeflow release has been rolled back
    Then a pod created now that PodDefault "add-secret" selects carries what it injects

  Scenario Outline: A <kind> made by the old version reads back at every version its CRD serves
    Given the cluster has served <kind>s since before the upgrade
    And a <kind> "readable" was made before the upgrade
    When the Kubeflow release has been upgraded
    Then the <kind> "readable" made before the upgrade reads back at every version its CRD serves
    When the Kubeflow release has been rolled back
    Then the <kind> "readable" made before the upgrade reads back at every version its CRD serves

    Examples:
      | kind       |
      | PyTorchJob |
      | TFJob      |
      | TrainJob   |
      | Notebook   |
      | PodDefault |
