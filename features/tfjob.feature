@tfjob
Feature: Distributed TensorFlow training with TFJob
  As a data scientist on the platform
  I want TFJobs with a parameter server and workers to train models
  So that TensorFlow's distributed training works the same before and after every upgrade

  Background:
    Given the Kubeflow training operator serves TFJobs

  @smoke
  Scenario Outline: The operator gives every replica its TF_CONFIG, with <workers> workers
    When I submit a TFJob "wiring" that only reports its TF_CONFIG, with 1 parameter server and <workers> workers
    Then the TFJob "wiring" succeeds within the timeout
    And every replica of "wiring" was given a TF_CONFIG naming all replicas and its own task
    And every worker of "wiring" reached the parameter server at the address its TF_CONFIG names

    Examples:
      | workers |
      | 1       |
      | 2       |

  @slow
  Scenario: A parameter server and two workers train a softmax model with a hidden layer
    When I submit a TFJob "mnist" training MNIST with 1 parameter server and 2 workers
    Then the TFJob "mnist" succeeds within the training timeout
    And every worker pod of "mnist" has completed
    And worker 0 of "mnist" reports a validation cross entropy and accuracy within the accepted limits
