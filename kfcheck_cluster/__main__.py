"""python -m kfcheck_cluster {build,up,down,status,push-images,profile,trainer,upgrade,prepare}: the embedded
cluster's commands.

`trainer` installs (or upgrades) only Kubeflow Trainer + JobSet into the running cluster, as `up` does.
`upgrade --release NAME` moves the running cluster's Kubeflow to another release set (up or down);
`prepare --release NAME` builds a release set's binaries and images only (kfcheck_cluster/releases.py).
"""

from __future__ import annotations

import argparse
import sys

from kfcheck_cluster import cluster, host, images, kubeflow, profile, releases, trainer
from kfcheck_cluster.layout import Layout, UnknownRelease
from kfcheck_cluster.processes import ClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kfcheck_cluster")
    parser.add_argument("command", choices=["build", "up", "down", "status", "push-images", "profile", "trainer",
                                            "upgrade", "prepare"])  # fmt: skip
    parser.add_argument("--release", help="up, upgrade, prepare: the Kubeflow release set (cluster/releases/NAME.env "
                        "or a file of your own; default $KUBEFLOW_RELEASE, else versions.env's)")  # fmt: skip
    parser.add_argument("--no-build", action="store_true", help="up: do not build missing binaries")
    parser.add_argument("--no-kubeflow", action="store_true", help="up: the bare cluster, without the chart")
    parser.add_argument("--install", default="helm", choices=kubeflow.INSTALLS,
                        help="up: Kubeflow from our Helm chart, or by kustomize as kubeflow/manifests")  # fmt: skip
    parser.add_argument("--switch", action="store_true", help="up: take down a cluster with the other install first")
    parser.add_argument("--registry", help="push-images: the registry your cluster pulls from (host[:port][/path])")
    parser.add_argument("--tls-verify", default="true", choices=["true", "false"], help="push-images: verify TLS")
    parser.add_argument("--authfile", help="push-images: credentials for the registry (docker config.json format)")
    args = parser.parse_args(argv)
    try:
        layout = Layout.from_env(args.release)
        layout.versions  # noqa: B018 -- an unknown release set is refused here, naming the known ones
    except UnknownRelease as error:
        print(f"kfcheck: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "build":
            host.build_binaries(layout)
        elif args.command == "up":
            with_kubeflow = not args.no_kubeflow
            cluster.up(layout, build=not args.no_build, with_kubeflow=with_kubeflow, kubeflow_install=args.install,
                       switch=args.switch)  # fmt: skip
            print(f"export KUBECONFIG={layout.kubeconfig}")
        elif args.command == "down":
            cluster.down(layout)
            print(f"cluster stopped and {layout.state} removed; caches kept in {layout.cache}")
        elif args.command == "profile":
            path = profile.ensure(layout)
            print(f"export KUBECONFIG={path}  # {profile.USER}, kubeflow-edit in namespace {profile.NAMESPACE}")
        elif args.command == "push-images":
            if not args.registry:
                parser.error("push-images needs --registry REGISTRY")
            images.ensure_registry(layout)
            images.push_suite_images(args.registry, tls_verify=args.tls_verify == "true", authfile=args.authfile)
            print(f"run the suite with -u registry={args.registry}")
        elif args.command == "trainer":
            trainer.install(layout)
        elif args.command == "upgrade":
            releases.upgrade(layout)
        elif args.command == "prepare":
            releases.prepare(layout)
        else:
            print(cluster.status(layout))
    except ClusterError as error:
        print(f"kfcheck: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
