@verdicts
Feature: Verdicts that say what was checked
  Skips carry their reason, a failed cleanup fails, strict mode fails what would be skipped.

  @preflight-skip
  Scenario: The run lacks a permission it needs
    Given a number 1
    Then the result is 1

  Scenario: Its API is not served either
    Given an API that the cluster does not serve
    Then the result is 99

  @cleanup-fails
  Scenario: Its cleanup fails
    Given a number 1
    Then the result is 1

  Scenario: Everything passes and is cleaned up
    Given a number 2
    Then the result is 2
