@kaniko
Feature: Building container images in the cluster with Kaniko
  As a data scientist working in a notebook
  I want to build an image from a Dockerfile on my shared volume, without a Docker daemon
  So that my training code ships as an image the cluster can run

  Scenario: Kaniko builds a Dockerfile from a ReadWriteMany volume and the pushed image runs
    Given a ReadWriteMany volume holding a Dockerfile that builds on the non-root base image
    When Kaniko builds the image "greeter" from the volume and pushes it to the registry
    Then a pod running the image "greeter" prints the greeting as a non-root user
