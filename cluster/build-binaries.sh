#!/usr/bin/env bash
# Builds every Go binary of the embedded cluster from the versions pinned in versions.env and in the
# Kubeflow release set (cluster/releases/$KUBEFLOW_RELEASE.env, default: versions.env's) into
# $KFCHECK_CACHE/bin/<component>-<version>/. A component whose directory is complete is skipped, so a
# second run costs nothing; Go's module and build caches live under $KFCHECK_CACHE/go as well.
#
#   [KUBEFLOW_RELEASE=name|path.env] cluster/build-binaries.sh [component ...]     (default: all)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
wanted_release=${KUBEFLOW_RELEASE:-}
# shellcheck source=versions.env
. "$here/versions.env"
KUBEFLOW_RELEASE=${wanted_release:-$KUBEFLOW_RELEASE}
release_file=$here/releases/$KUBEFLOW_RELEASE.env
case $KUBEFLOW_RELEASE in *.env) release_file=$KUBEFLOW_RELEASE ;; esac  # a release set file of your own
if [ ! -f "$release_file" ]; then
  known=$(cd "$here/releases" && ls -- *.env | sed 's/\.env$//' | tr '\n' ' ')
  echo "unknown Kubeflow release set '$KUBEFLOW_RELEASE': known are ${known% }" >&2; exit 2
fi
# shellcheck disable=SC1090
. "$release_file"
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build
bin=$cache/bin
mkdir -p "$bin" "$GOMODCACHE" "$GOCACHE"

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# install_dir NAME VERSION FILES... -> succeeds when the directory already holds all FILES
complete() {
  local dir=$1; shift
  local f
  for f in "$@"; do [ -x "$dir/$f" ] || return 1; done
}

# Builds into a temporary directory and renames it into place, so an interrupted build never leaves
# a directory that looks complete.
publish() {
  local tmp=$1 dir=$2
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION dir=$bin/kubernetes-$KUBERNETES_VERSION
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubeadm kubectl)
  complete "$dir" "${cmds[@]}" && return 0
  log "kubernetes v$v (7 binaries; the long one: ~25 min cold on 2 cores)"
  local minor=${v#*.}; minor=${minor%%.*}
  local stamp="-X k8s.io/component-base/version.gitVersion=v$v -X k8s.io/component-base/version.gitMajor=1"
  stamp+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  stamp+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
  stamp+=" -X k8s.io/client-go/pkg/version.gitVersion=v$v -X k8s.io/client-go/pkg/version.gitMajor=1"
  stamp+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  local tmp; tmp=$(mktemp -d "$bin/.kubernetes.XXXX")
  (cd "$here/modules/kubernetes" &&
    go build -trimpath -tags selinux,notest -ldflags "-s -w $stamp" -o "$tmp/" \
      $(printf 'k8s.io/kubernetes/cmd/%s ' "${cmds[@]}"))
  publish "$tmp" "$dir"
}

build_etcd() {
  local dir=$bin/etcd-$ETCD_VERSION
  complete "$dir" etcd && return 0
  log "etcd v$ETCD_VERSION"
  local tmp; tmp=$(mktemp -d "$bin/.etcd.XXXX")
  (cd "$here/modules/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  publish "$tmp" "$dir"
}

# go_install DIR-NAME VERSION BINARY PACKAGE@VERSION [ldflags]: modules without replace lines.
go_install() {
  local name=$1 version=$2 binary=$3 pkg=$4 ldflags=${5:-}
  local dir=$bin/$name-$version
  complete "$dir" "$binary" && return 0
  log "$name v$version"
  local tmp; tmp=$(mktemp -d "$bin/.$name.XXXX")
  GOBIN=$tmp go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
  publish "$tmp" "$dir"
}

build_coredns() {
  go_install coredns "$COREDNS_VERSION" coredns "github.com/coredns/coredns@v$COREDNS_VERSION"
}
build_helm() {
  go_install helm "$HELM_VERSION" helm "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" \
    "-X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
}
build_training_operator() {
  go_install training-operator "$TRAINING_OPERATOR_VERSION" training-operator.v1 \
    "github.com/kubeflow/training-operator/cmd/training-operator.v1@v$TRAINING_OPERATOR_VERSION"
}
# wrapper_build DIR-NAME VERSION BINARY PACKAGE MODULE-DIR [ldflags]: a package of a wrapper module in
# cluster/modules/ (pinned requires instead of `go install pkg@version`).
wrapper_build() {
  local name=$1 version=$2 binary=$3 pkg=$4 module=$5 ldflags=${6:-}
  local dir=$bin/$name-$version
  complete "$dir" "$binary" && return 0
  log "$name v$version"
  local tmp; tmp=$(mktemp -d "$bin/.$name.XXXX")
  (cd "$here/modules/$module" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp/$binary" "$pkg")
  publish "$tmp" "$dir"
}

# Trainer comes from the wrapper module of the release set's Trainer version and JobSet from its own (their
# module graphs differ); the release set's JobSet must be the version that Trainer's go.mod requires. A
# release set without Trainer builds neither.
wrapper_module() {
  local module=$1-$2
  [ -f "$here/modules/$module/go.mod" ] || {
    echo "no wrapper module cluster/modules/$module for $1 v$2 ($release_file)" >&2; exit 2; }
  echo "$module"
}
check_trainer_jobset() {
  grep -q "sigs.k8s.io/jobset v$JOBSET_VERSION\b" "$GOMODCACHE/github.com/kubeflow/trainer/v2@v$TRAINER_VERSION/go.mod" || {
    echo "Trainer v$TRAINER_VERSION does not require JobSet v$JOBSET_VERSION ($release_file)" >&2; exit 2; }
}
build_trainer() {
  [ -n "$TRAINER_VERSION" ] || return 0
  wrapper_build trainer "$TRAINER_VERSION" trainer-controller-manager \
    github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager "$(wrapper_module trainer "$TRAINER_VERSION")"
  check_trainer_jobset
  # Trainer's chart from v2.2.0 also depends on LeaderWorkerSet's chart (installed only with its data cache,
  # which is off); Helm wants every dependency present, so it is staged from its module too.
  local chart=$GOMODCACHE/github.com/kubeflow/trainer/v2@v$TRAINER_VERSION/charts/kubeflow-trainer/Chart.yaml lws
  lws=$(awk '/- name: lws/{found=1} found && /version:/{print $2; exit}' "$chart")
  if [ -n "$lws" ] && [ ! -d "$GOMODCACHE/sigs.k8s.io/lws@v$lws/charts/lws" ]; then
    log "LeaderWorkerSet v$lws module (its chart)"
    (cd "$here/modules/$(wrapper_module trainer "$TRAINER_VERSION")" && go mod download "sigs.k8s.io/lws@v$lws")
  fi
}
build_jobset() {
  [ -n "$TRAINER_VERSION" ] || return 0
  # JobSet's controller is the root package of its module (main.go).
  wrapper_build jobset "$JOBSET_VERSION" jobset-controller sigs.k8s.io/jobset "$(wrapper_module jobset "$JOBSET_VERSION")" \
    "-X sigs.k8s.io/jobset/pkg/version.GitVersion=v$JOBSET_VERSION -X sigs.k8s.io/jobset/pkg/version.GitCommit="
}

build_kaniko() {
  local dir=$bin/kaniko-$KANIKO_VERSION
  complete "$dir" executor && return 0
  log "kaniko v$KANIKO_VERSION"
  local tmp; tmp=$(mktemp -d "$bin/.kaniko.XXXX")
  (cd "$here/modules/kaniko" && go build -trimpath \
    -ldflags "-s -w -X github.com/GoogleContainerTools/kaniko/pkg/version.version=v$KANIKO_VERSION" \
    -o "$tmp/executor" github.com/GoogleContainerTools/kaniko/cmd/executor)
  publish "$tmp" "$dir"
}

# Cucumber's json-formatter turns the run's Cucumber Messages into cucumber JSON (kfcheck.reports).
build_cucumber_json_formatter() {
  local v=$CUCUMBER_JSON_FORMATTER_VERSION dir=$bin/cucumber-json-formatter-$CUCUMBER_JSON_FORMATTER_VERSION
  complete "$dir" cucumber-json-formatter && return 0
  grep -q "json-formatter/go/v19 v$v " "$here/modules/cucumber-json-formatter/go.mod" || {
    echo "cluster/modules/cucumber-json-formatter/go.mod does not pin json-formatter v$v (versions.env)" >&2; exit 2; }
  log "cucumber json-formatter v$v"
  local tmp; tmp=$(mktemp -d "$bin/.cucumber-json-formatter.XXXX")
  (cd "$here/modules/cucumber-json-formatter" && go build -trimpath -ldflags "-s -w" \
    -o "$tmp/cucumber-json-formatter" github.com/cucumber/common/json-formatter/go/v19/cmd)
  publish "$tmp" "$dir"
}

all=(kubernetes etcd coredns helm training_operator trainer jobset kaniko cucumber_json_formatter)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${all[@]}")
for c in "${wanted[@]}"; do
  c=${c//-/_}
  declare -F "build_$c" >/dev/null || { echo "unknown component '$c' (known: ${all[*]})" >&2; exit 2; }
  "build_$c"
done
