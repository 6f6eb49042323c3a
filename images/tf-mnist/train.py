"""Distributed MNIST training with TensorFlow: one parameter server, N workers, through TF_CONFIG.

Between-graph replication as in the paper's TFJob: the model's variables live on the parameter server
(`ps`), every worker builds the same graph and runs its own training loop, applying its updates to the
shared variables asynchronously; worker 0 is the chief, validates and reports. The model is the
paper's softmax regression with one hidden layer. Configured only from TF_CONFIG, which the Kubeflow
training operator injects; without it, trains in one process.

Worker 0 ends with one machine-readable line:
    validation_cross_entropy=0.0812 accuracy=0.9750 data=mnist-full (...) train=60000 test=10000 steps=4000
Flags (or env): --train-steps (TRAIN_STEPS, global), --batch-size (BATCH_SIZE), --hidden-units
(HIDDEN_UNITS), --lr (LR), --data-dir (DATA_DIR), --train-limit, --test-limit.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def read_idx(directory: Path, stem: str) -> np.ndarray:
    """Reads an IDX file (plain or .gz; '-idx' or '.idx' naming) into a numpy array."""
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = directory / name
        if path.exists():
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as handle:
                data = handle.read()
            magic, count = struct.unpack(">II", data[:8])
            if magic == 2051:
                rows, columns = struct.unpack(">II", data[8:16])
                return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * columns)
            if magic == 2049:
                return np.frombuffer(data, dtype=np.uint8, offset=8)
            raise ValueError(f"{path}: not an IDX image/label file (magic {magic})")
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_split(directory: Path, split: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte").astype(np.float32) / 255.0
    labels = np.eye(10, dtype=np.float32)[read_idx(directory, f"{prefix}-labels-idx1-ubyte")]
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images, labels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Distributed MNIST with TensorFlow (PS + workers)")
    parser.add_argument("--train-steps", type=int, default=int(env.get("TRAIN_STEPS", "4000")))
    parser.add_argument("--batch-size", type=int, default=int(env.get("BATCH_SIZE", "100")))
    parser.add_argument("--hidden-units", type=int, default=int(env.get("HIDDEN_UNITS", "256")))
    parser.add_argument("--lr", type=float, default=float(env.get("LR", "0.001")))
    parser.add_argument("--data-dir", type=Path, default=Path(env.get("DATA_DIR", "/data/mnist")))
    parser.add_argument("--train-limit", type=int, default=int(env.get("TRAIN_LIMIT", "0")))
    parser.add_argument("--test-limit", type=int, default=int(env.get("TEST_LIMIT", "0")))
    parser.add_argument("--seed", type=int, default=int(env.get("SEED", "1")))
    return parser.parse_args(argv)


def build_model(hidden_units: int, lr: float, worker_device: str, cluster: tf.train.ClusterSpec | None) -> dict:
    setter = v1.train.replica_device_setter(worker_device=worker_device, cluster=cluster) if cluster else None
    with v1.device(setter):
        global_step = v1.train.get_or_create_global_step()
        images = v1.placeholder(tf.float32, [None, 784], name="images")
        labels = v1.placeholder(tf.float32, [None, 10], name="labels")
        hidden_weights = v1.get_variable("hid_w", [784, hidden_units], initializer=v1.glorot_uniform_initializer())
        hidden_biases = v1.get_variable("hid_b", [hidden_units], initializer=v1.zeros_initializer())
        softmax_weights = v1.get_variable("sm_w", [hidden_units, 10], initializer=v1.glorot_uniform_initializer())
        softmax_biases = v1.get_variable("sm_b", [10], initializer=v1.zeros_initializer())
        hidden = tf.nn.relu(tf.matmul(images, hidden_weights) + hidden_biases)
        logits = tf.matmul(hidden, softmax_weights) + softmax_biases
        cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(labels, 1)), tf.float32))
        train_op = v1.train.AdamOptimizer(lr).minimize(cross_entropy, global_step=global_step)
    return {
        "images": images,
        "labels": labels,
        "cross_entropy": cross_entropy,
        "accuracy": accuracy,
        "train_op": train_op,
        "global_step": global_step,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    v1.disable_eager_execution()
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    cluster_spec = tf_config.get("cluster")
    task = tf_config.get("task", {})
    job_name, task_index = task.get("type", "worker"), int(task.get("index", 0))
    print(f"job name = {job_name}\ntask index = {task_index}", flush=True)

    cluster = tf.train.ClusterSpec(cluster_spec) if cluster_spec else None
    server = None
    if cluster is not None:
        server = tf.distribute.Server(cluster, job_name=job_name, task_index=task_index)
        if job_name == "ps":
            print("Parameter server serving variables; it runs until the job ends", flush=True)
            server.join()
            return 0

    np.random.seed(args.seed + task_index)
    v1.set_random_seed(args.seed)
    train_images, train_labels = load_split(args.data_dir, "train", args.train_limit)
    is_chief = task_index == 0
    model = build_model(args.hidden_units, args.lr, f"/job:worker/task:{task_index}", cluster)

    target = server.target if server is not None else ""
    config = v1.ConfigProto(
        device_filters=["/job:ps", f"/job:worker/task:{task_index}"] if cluster is not None else None,
        allow_soft_placement=True,
    )
    hooks = [v1.train.StopAtStepHook(last_step=args.train_steps)]
    print(f"Worker {task_index}: Initializing session...", flush=True)
    started = time.time()
    local_steps = 0
    with v1.train.MonitoredTrainingSession(
        master=target, is_chief=is_chief, hooks=hooks, config=config, save_checkpoint_secs=None,
        save_summaries_steps=None, log_step_count_steps=None,
    ) as session:  # fmt: skip
        print(f"Worker {task_index}: Session initialization complete.\nTraining begins @ {started:.6f}", flush=True)
        step = 0
        while not session.should_stop():
            batch = np.random.randint(0, len(train_images), args.batch_size)
            _, step = session.run(
                [model["train_op"], model["global_step"]],
                feed_dict={model["images"]: train_images[batch], model["labels"]: train_labels[batch]},
            )
            local_steps += 1
            if local_steps % 200 == 0:
                print(f"{time.time():.6f}: Worker {task_index}: training step {local_steps} done (global step: {step})",
                      flush=True)  # fmt: skip
        print(f"Training ends @ {time.time():.6f}\nTraining elapsed time: {time.time() - started:.6f} s", flush=True)
        if is_chief:
            test_images, test_labels = load_split(args.data_dir, "test", args.test_limit)
            # the hook stops the loop; evaluation reads the trained variables through the raw session
            raw = session._tf_sess()
            cross_entropy, accuracy = raw.run(
                [model["cross_entropy"], model["accuracy"]],
                feed_dict={model["images"]: test_images, model["labels"]: test_labels},
            )
            source_file = args.data_dir / "SOURCE"
            source = source_file.read_text().strip() if source_file.exists() else str(args.data_dir)
            print(
                f"After {args.train_steps} training steps, validation cross entropy = {cross_entropy:.4f}", flush=True
            )
            print(
                f"validation_cross_entropy={cross_entropy:.4f} accuracy={accuracy:.4f} data={source} "
                f"train={len(train_images)} test={len(test_images)} steps={args.train_steps} "
                f"workers={len(cluster_spec.get('worker', [1])) if cluster_spec else 1}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
