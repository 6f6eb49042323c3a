@notebook @poddefault
Feature: PodDefaults configure notebook servers
  As a data scientist
  I want my notebook servers to get shared volumes, secrets and settings from PodDefaults
  So that every notebook of my team starts with what it needs, and nothing leaks to other pods

  Background:
    Given the Kubeflow notebook controller and PodDefault webhook are available
    And a ReadWriteMany volume and a Secret for the PodDefault
    And a PodDefault "add-secret" that injects an env var, a secret-backed env var and the shared volume

  @smoke
  Scenario: A notebook server selected by the PodDefault gets what it injects and serves JupyterLab
    When I create a Notebook "notebook" selected by the PodDefault
    Then the Notebook "notebook" becomes Ready
    And the Notebook "notebook" serves JupyterLab under its NB_PREFIX from inside the cluster
    And the pod of Notebook "notebook" carries what PodDefault "add-secret" injects

  Scenario: A pod the PodDefault does not select is left untouched
    When I create a pod "plain" that the PodDefault does not select
    Then the pod "plain" has nothing from any PodDefault

  Scenario: Two PodDefaults apply to the same pod
    Given a second PodDefault "team-metadata" for the same pods
    When I create a pod "both" that the PodDefault selects
    Then the pod "both" carries what PodDefault "add-secret" injects
    And the pod "both" carries what PodDefault "team-metadata" injects

  Scenario: A pod that defines an injected env var differently is refused
    When I create a pod "conflicting" that the PodDefault selects but that sets POD_DEFAULT itself
    Then the pod was refused because of the conflicting env var

  Scenario: A PodDefault with an empty selector applies to every pod of the namespace
    Given a PodDefault "everyone" with an empty selector
    When I create a pod "anyone" that the PodDefault does not select
    Then the pod "anyone" carries what PodDefault "everyone" injects

  Scenario: A pod annotated to be excluded from PodDefaults is left alone
    When I create a pod "excluded" that the PodDefault selects but that is annotated to be excluded
    Then the pod "excluded" has nothing from any PodDefault

  Scenario: A stopped notebook server has no pod and starts again when the stop annotation goes
    When I create a Notebook "sleepy" selected by the PodDefault
    Then the Notebook "sleepy" becomes Ready
    When I stop the Notebook "sleepy"
    Then the Notebook "sleepy" has no pod
    When I start the Notebook "sleepy" again
    Then the Notebook "sleepy" becomes Ready
    And the pod of Notebook "sleepy" carries what PodDefault "add-secret" injects

  @jupyter-web-app
  Scenario: A notebook launched from Kubeflow's Jupyter web app with a PodDefault's configuration gets what it injects
    Given the Jupyter web app serves my namespace
    When I list the configurations the Jupyter web app offers
    Then the PodDefault "add-secret" is offered as a configuration
    When I launch a notebook "launched" from the Jupyter web app with the configuration of PodDefault "add-secret"
    Then the Notebook "launched" becomes Ready
    And the Jupyter web app lists the notebook "launched" as ready
    And the Jupyter web app's own page of the notebook "launched", rendered in a browser, shows it running
    And the pod of Notebook "launched" carries what PodDefault "add-secret" injects

  @jupyter-web-app
  Scenario: The Jupyter web app refuses a user without rights in the namespace
    Given the Jupyter web app serves my namespace
    When a user without rights in my namespace lists and launches notebooks there through the Jupyter web app
    Then the Jupyter web app refused both with 403 and made no notebook
