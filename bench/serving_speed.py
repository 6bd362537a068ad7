"""The student's Python serving path on LiteRT against TensorFlow's TFLite interpreter, side by
side in one process (same int8 model, same queries, same machine), and the install size of a
service on each.

    .venv/bin/python -m bench.serving_speed SERVING_DIR [--queries 100] [--rounds 3]
        [--output bench/results/serving.jsonl]

`pqrnn.serving.FastStudent` (tokenizer + NumPy projection + int8 encoder) with
`ai_edge_litert.interpreter.Interpreter` (what it loads now) and with `tf.lite.Interpreter`
(what it loaded before LiteRT was in the lock, tflite_runtime not being installed): both warmed
on the same other queries, then timed on the same `queries` texts, alternating in `rounds`
(p50/p90 ms over all rounds); `encoder_*` time the int8 encoder alone on the same features.
`identical_logits`: both runtimes computed the same logits on every timed query.
Install size: bytes on disk of the installed distributions a service needs and of everything
they require (markers evaluated, no extras): numpy + ai-edge-litert for `FastStudent`, against
tensorflow for the SavedModel.

`bench.speed` measures the same in its one run on its queries; this command takes the
language utterances of the golden set (device/golden_texts.py) and appends one JSON line
(command, commit, machine, date, numbers) to `--output`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from bench.common import append_record, commit_and_machine
from runtime.timing import timed

DEFAULT_OUTPUT = "bench/results/serving.jsonl"
LITERT_SERVICE = ("numpy", "ai-edge-litert")
TENSORFLOW_SERVICE = ("tensorflow",)
NOT_SPOKEN = ("edge", "random", "random_bytes")  # golden utterances that are no language's


def installed_bytes(requirements: Sequence[str]) -> Tuple[int, List[str]]:
    """Bytes on disk of the installed distributions `requirements` and everything they require,
    recursively (markers evaluated for this interpreter, extras left out), and their names."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    sizes: Dict[str, int] = {}
    todo = list(requirements)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in sizes:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        paths = [f.locate() for f in distribution.files or []]
        sizes[name] = sum(p.stat().st_size for p in paths if p.is_file())
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return sum(sizes.values()), sorted(sizes)


def _percentiles(times: Sequence[float]) -> Tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 90))


def measure(serving_dir: str, texts: Sequence[str], queries: int, rounds: int = 3) -> Dict[str, Any]:
    """The module docstring's figures: FastStudent on LiteRT and on tf.lite.Interpreter, timed on
    the first `queries` texts after warming on the rest; install sizes."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from review.speed import fast_student
    from tokenization import words

    texts = list(texts) or ["turn on the light"]
    timed_texts, warm_texts = texts[:queries], texts[queries:] or texts
    students = {
        name: fast_student(serving_dir, cls)
        for name, cls in (("litert", Interpreter), ("tf_lite", tf.lite.Interpreter))
    }
    for student in students.values():
        for text in warm_texts:
            student(text)
    answers = [[student(text) for text in timed_texts] for student in students.values()]
    identical = all(
        np.array_equal(a.intent_logits, b.intent_logits) and np.array_equal(a.slot_logits, b.slot_logits)
        for a, b in zip(*answers)
    )
    features = [students["litert"].projection(words(text)) for text in timed_texts]
    query_ms: Dict[str, List[float]] = {name: [] for name in students}
    encoder_ms: Dict[str, List[float]] = {name: [] for name in students}
    for _ in range(rounds):  # alternating, so drifts of the machine's speed hit both alike
        for name, student in students.items():
            query_ms[name] += timed(lambda i: student(timed_texts[i]), len(timed_texts)).tolist()
            encoder_ms[name] += timed(lambda i: student.encode(features[i]), len(features)).tolist()
    litert_bytes, litert_distributions = installed_bytes(LITERT_SERVICE)
    tensorflow_bytes, tensorflow_distributions = installed_bytes(TENSORFLOW_SERVICE)
    result: Dict[str, Any] = {}
    for name in students:
        result[f"student_latency_p50_ms_{name}"], result[f"student_latency_p90_ms_{name}"] = _percentiles(
            query_ms[name]
        )
        result[f"encoder_latency_p50_ms_{name}"], result[f"encoder_latency_p90_ms_{name}"] = _percentiles(
            encoder_ms[name]
        )
    return {
        **result,
        "litert_speedup_p50": result["student_latency_p50_ms_tf_lite"] / result["student_latency_p50_ms_litert"],
        "identical_logits": identical,
        "service_install_mb_litert": litert_bytes / 1e6,
        "service_install_mb_tensorflow": tensorflow_bytes / 1e6,
        "service_distributions_litert": litert_distributions,
        "service_distributions_tensorflow": len(tensorflow_distributions),
        "ai_edge_litert_version": importlib.metadata.version("ai-edge-litert"),
        "tensorflow_version": tf.__version__,
        "serving_queries": len(timed_texts),
        "serving_rounds": rounds,
    }


def main(argv: Optional[List[str]] = None) -> int:
    from bench.device_agreement import golden_utterances

    parser = argparse.ArgumentParser(prog="python -m bench.serving_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("serving_dir", help="an exported student folder (SavedModel + assets.extra/)")
    parser.add_argument("--queries", type=int, default=100, help="timed queries (the other utterances warm up)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSONL file the record is appended to")
    args = parser.parse_args(argv)
    texts = [text.decode("utf-8") for source, text in golden_utterances() if source not in NOT_SPOKEN]
    result = measure(args.serving_dir, texts, args.queries, args.rounds)
    command = "python -m bench.serving_speed " + " ".join(argv if argv is not None else sys.argv[1:])
    append_record(args.output, {"command": command, **commit_and_machine(), "serving_dir": args.serving_dir, **result})
    print(
        f"FastStudent p50: LiteRT {result['student_latency_p50_ms_litert']:.3f} ms, tf.lite "
        f"{result['student_latency_p50_ms_tf_lite']:.3f} ms ({result['litert_speedup_p50']:.2f}x); "
        f"install: numpy + ai-edge-litert {result['service_install_mb_litert']:.0f} MB, "
        f"tensorflow {result['service_install_mb_tensorflow']:.0f} MB; appended to {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
