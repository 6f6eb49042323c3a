@demo
Feature: Demo of the report plumbing
  A tiny suite that needs no cluster, run by the tests with the real radish.

  @smoke
  Scenario: Everything passes
    Given a number 2
    When I add 3
    Then the result is 5

  Scenario: A step fails and the rest are skipped
    Given a number 2
    When I add 3
    Then the result is 6
    And nothing else runs

  Scenario: A step checks a data table
    Given a number 2
    When I add 3
    Then the numbers add up to
      | number |
      | 2      |
      | 3      |

  @slow
  Scenario Outline: Rows of an outline
    Given a number <a>
    When I add <b>
    Then the result is <c>

    Examples:
      | a | b | c |
      | 1 | 1 | 2 |
      | 2 | 2 | 4 |

  @setup-fails
  Scenario: Its set-up hook fails
    Given a number 1
    Then the result is 1

  Scenario: Its API is not served
    Given an API that the cluster does not serve
    Then the result is 99
