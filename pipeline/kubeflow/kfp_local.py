"""`python -m pipeline kfp-local SPEC`: run a compiled KFP v2 pipeline spec on this machine as
KFP's driver and launcher would, to try the very spec `submit` sends without a cluster.

Each container task runs the exact command and arguments of its executor in a subprocess, the
installed project standing in for the image (`python` is this interpreter). `{{$}}` becomes the
task's `ExecutorInput` JSON, built from the run parameters (the spec's defaults or `--param`) and
the `ExecutorOutput` files of the tasks upstream; artifacts are laid out as KFP lays them out,
`<root>/<pipeline>/<run id>/<task>/<output>`. Importer tasks are materialised from their URIs.
Either compile target runs (artifact types reach the tasks in the form the spec declares them).
Nothing is cached: every task runs. What this cannot emulate (resolvers, drivers, conditions,
loops, other placeholders) is an error naming the task, before anything runs.
"""

from __future__ import annotations

import argparse
import datetime
import graphlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, TextIO

from pipeline.kubeflow.settings import PROJECT_DIR, is_local_spec
from pipeline.kubeflow.submit import SubmitError, load_spec, run_parameters

EXECUTOR_INPUT = "{{$}}"
LOG_TAIL_LINES = 20
_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")
_TASK_KEYS = {"componentRef", "inputs", "taskInfo", "cachingOptions", "dependentTasks"}
_COMPONENT_KEYS = {"executorLabel", "inputDefinitions", "outputDefinitions"}
_CONTAINER_KEYS = {"image", "command", "args", "resources"}  # the image is skipped, resources too

Artifact = Dict[str, Any]


class KfpLocalError(Exception):
    """One message for the CLI; `exit_code` 2 for usage errors, 1 for a failed run."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _component(spec: Dict[str, Any], task_name: str) -> Dict[str, Any]:
    return spec["components"][spec["root"]["dag"]["tasks"][task_name]["componentRef"]["name"]]


def _executor(spec: Dict[str, Any], task_name: str) -> Dict[str, Any]:
    return spec["deploymentSpec"]["executors"][_component(spec, task_name)["executorLabel"]]


def _check_supported(spec: Dict[str, Any], name: str) -> None:
    """Refuse, by name, what the spec asks of KFP that this launcher does not do."""
    tasks = spec["root"]["dag"]["tasks"]
    task, component, executor = tasks[name], _component(spec, name), _executor(spec, name)
    unknown = [f"task {key}" for key in sorted(set(task) - _TASK_KEYS)]
    unknown += [f"component {key}" for key in sorted(set(component) - _COMPONENT_KEYS)]
    if component.get("outputDefinitions", {}).get("parameters"):
        unknown.append("output parameters")
    for kind in sorted(set(executor) - {"container", "importer"}):
        unknown.append(f"a {kind} executor")
    unknown += [f"container {key}" for key in sorted(set(executor.get("container", {})) - _CONTAINER_KEYS)]
    for key, source in task.get("inputs", {}).get("parameters", {}).items():
        if not {"runtimeValue", "componentInputParameter"} & set(source):
            unknown.append(f"input parameter {key} from {', '.join(source)}")
    for key, source in task.get("inputs", {}).get("artifacts", {}).items():
        if "taskOutputArtifact" not in source:
            unknown.append(f"input artifact {key} from {', '.join(source)}")
            continue
        ref = source["taskOutputArtifact"]
        producer, output = ref["producerTask"], ref["outputArtifactKey"]
        made = _component(spec, producer).get("outputDefinitions", {}).get("artifacts", {}) if producer in tasks else {}
        if output not in made:
            unknown.append(f"input artifact {key} from {producer}.{output}, which no task makes")
    container = executor.get("container", {})
    for arg in container.get("command", []) + container.get("args", []):
        unknown += [f"placeholder {p}" for p in _PLACEHOLDER.findall(arg) if p != EXECUTOR_INPUT]
    if unknown:
        raise KfpLocalError(f"task {name}: kfp-local cannot emulate {'; '.join(unknown)}", 2)


def task_order(spec: Dict[str, Any]) -> List[str]:
    """The DAG's tasks, each after every task it depends on."""
    tasks = spec["root"]["dag"]["tasks"]
    graph = {}
    for name, task in sorted(tasks.items()):
        upstream = set(task.get("dependentTasks", []))
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            upstream.add(source.get("taskOutputArtifact", {}).get("producerTask", name))
        graph[name] = sorted(upstream - {name})
    try:
        return [name for name in graphlib.TopologicalSorter(graph).static_order() if name in tasks]
    except graphlib.CycleError as exc:
        raise KfpLocalError(f"the pipeline's tasks depend on each other in a cycle: {exc.args[1]}", 2) from None


def plan(spec: Dict[str, Any]) -> List[str]:
    """The tasks in the order they will run; KfpLocalError for the first one this cannot emulate.
    Both compile targets run: artifact types pass through as the spec declares them."""
    order = task_order(spec)
    for name in order:
        _check_supported(spec, name)
    return order


def _executor_input(
    spec: Dict[str, Any], name: str, params: Dict[str, Any], produced: Dict[str, Dict[str, Artifact]], task_dir: str
) -> Dict[str, Any]:
    """What KFP's driver gives the task: its parameter values, its input artifacts (typed as the
    consumer declares them), and its output artifacts under the task's folder."""
    task = spec["root"]["dag"]["tasks"][name]
    component = _component(spec, name)
    values = {}
    for key, source in task.get("inputs", {}).get("parameters", {}).items():
        values[key] = (
            source["runtimeValue"]["constant"]
            if "runtimeValue" in source
            else params[source["componentInputParameter"]]
        )
    inputs = {}
    for key, source in task.get("inputs", {}).get("artifacts", {}).items():
        ref = source["taskOutputArtifact"]
        artifact = dict(produced[ref["producerTask"]][ref["outputArtifactKey"]])
        artifact["type"] = component["inputDefinitions"]["artifacts"][key]["artifactType"]
        inputs[key] = {"artifacts": [artifact]}
    outputs = {}
    for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
        uri = os.path.join(task_dir, key)
        outputs[key] = {"artifacts": [{"name": uri, "type": definition["artifactType"], "uri": uri, "metadata": {}}]}
    return {
        "inputs": {"parameterValues": values, "artifacts": inputs},
        "outputs": {"artifacts": outputs, "outputFile": os.path.join(task_dir, "executor_output.json")},
    }


def _import(importer: Dict[str, Any], executor_input: Dict[str, Any]) -> Dict[str, Artifact]:
    """An importer task: its one output artifact is the URI it names, as KFP's importer records it."""
    source = importer["artifactUri"]
    if "constant" in source:
        uri = source["constant"]
    else:  # the name of one of the task's input parameters
        uri = executor_input["inputs"]["parameterValues"][source["runtimeParameter"]]
    [key] = executor_input["outputs"]["artifacts"]
    return {key: {"name": uri, "type": importer["typeSchema"], "uri": uri, "metadata": importer.get("metadata", {})}}


def _run_container(container: Dict[str, Any], executor_input: Dict[str, Any], log_path: str) -> int:
    """A container task's command and arguments in a subprocess, `{{$}}` substituted; its exit code."""
    text = json.dumps(executor_input)
    argv = [arg.replace(EXECUTOR_INPUT, text) for arg in container["command"] + container.get("args", [])]
    # As in the image: `python` is the interpreter with the project's dependencies, and the
    # working directory is the project (so `python -m` imports it from there).
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    # A container's temp files die with it; here TFX's Beam executors would leave a ~45 MB
    # throwaway TFX sdist per task in /tmp, so each task gets a temp folder removed after it.
    with tempfile.TemporaryDirectory(prefix="kfp-local-task-") as scratch, open(log_path, "w", encoding="utf-8") as log:
        env["TMPDIR"] = scratch
        return subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_DIR).returncode


def _reported_outputs(executor_input: Dict[str, Any]) -> Dict[str, Artifact]:
    """The task's output artifacts with the metadata its `ExecutorOutput` reports (KFP's launcher
    records that in MLMD, and downstream tasks receive it)."""
    output_file = executor_input["outputs"]["outputFile"]
    reported = {}
    if os.path.exists(output_file):
        with open(output_file, encoding="utf-8") as f:
            reported = json.load(f).get("artifacts", {})
    outputs = {}
    for key, listed in executor_input["outputs"]["artifacts"].items():
        [artifact] = listed["artifacts"]
        got = (reported.get(key, {}).get("artifacts") or [{}])[0]
        outputs[key] = {**artifact, "metadata": got.get("metadata", {})}
    return outputs


def run_spec(spec_path: str, pipeline_root: Optional[str], params: Sequence[str], out: TextIO) -> None:
    """Run every task of the spec in order, printing each one's state, time and log file; raise
    KfpLocalError for what cannot run here and for the first task that fails."""
    try:
        spec = load_spec(spec_path, "python -m pipeline compile --local-root DIR")
        values = run_parameters(spec, params, [])
    except SubmitError as exc:
        raise KfpLocalError(str(exc), exc.exit_code) from None
    if not is_local_spec(spec):
        raise KfpLocalError(
            f"{spec_path} was compiled for Kubeflow (pipeline root {spec['defaultPipelineRoot']}): its tasks read "
            "files inside the image; compile it for this machine: python -m pipeline compile --local-root DIR",
            2,
        )
    root = pipeline_root or spec["defaultPipelineRoot"]
    if "://" in root:
        raise KfpLocalError(f"--pipeline-root {root!r}: kfp-local writes artifacts to a folder of this machine", 2)
    for name, declared in spec["root"].get("inputDefinitions", {}).get("parameters", {}).items():
        if name not in values:
            if "defaultValue" not in declared:
                raise KfpLocalError(f"parameter {name} has no default: pass --param {name}=VALUE", 2)
            values[name] = declared["defaultValue"]
    order = plan(spec)

    pipeline_name = spec["pipelineInfo"]["name"]
    run_id = f"local-{datetime.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    run_dir = os.path.join(os.path.abspath(root), pipeline_name, run_id)
    print(f"run {run_id} of {pipeline_name}: {len(order)} tasks, artifacts under {run_dir}/", file=out, flush=True)
    started = time.monotonic()
    produced: Dict[str, Dict[str, Artifact]] = {}
    for name in order:
        executor = _executor(spec, name)
        task_dir = os.path.join(run_dir, name)
        os.makedirs(task_dir)
        executor_input = _executor_input(spec, name, values, produced, task_dir)
        with open(os.path.join(task_dir, "executor_input.json"), "w", encoding="utf-8") as f:
            json.dump(executor_input, f, indent=1)
        task_started = time.monotonic()
        elapsed = datetime.timedelta(seconds=int(task_started - started))
        if "importer" in executor:
            produced[name] = _import(executor["importer"], executor_input)
            uris = ", ".join(a["uri"] for a in produced[name].values())
            print(f"[{elapsed}] {name:<18} IMPORTED   {uris}", file=out, flush=True)
            continue
        for listed in executor_input["outputs"]["artifacts"].values():
            os.makedirs(listed["artifacts"][0]["uri"])  # as KFP's launcher prepares local output folders
        log_path = os.path.join(task_dir, "log.txt")
        print(f"[{elapsed}] {name:<18} RUNNING    log: {log_path}", file=out, flush=True)
        code = _run_container(executor["container"], executor_input, log_path)
        seconds = time.monotonic() - task_started
        if code:
            print(f"[{elapsed}] {name:<18} FAILED     exit {code} after {seconds:.0f} s", file=out, flush=True)
            with open(log_path, encoding="utf-8", errors="replace") as log:
                tail = "".join(log.readlines()[-LOG_TAIL_LINES:]).rstrip()
            raise KfpLocalError(f"task {name} failed (exit {code}); the end of its log {log_path}:\n{tail}")
        produced[name] = _reported_outputs(executor_input)
        print(f"[{elapsed}] {name:<18} SUCCEEDED  in {seconds:.0f} s", file=out, flush=True)
    minutes = (time.monotonic() - started) / 60
    print(f"run {run_id} succeeded: {len(order)} tasks in {minutes:.1f} min; artifacts: {run_dir}/", file=out)


def add_kfp_local_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="pipeline spec compiled with python -m pipeline compile --local-root DIR")
    parser.add_argument(
        "--pipeline-root", metavar="DIR", help="folder for this run's artifacts (default: the spec's --local-root)"
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="pipeline parameter (repeatable)"
    )


def main_kfp_local(args: argparse.Namespace) -> int:
    """`kfp-local` for the CLI: an error or a failed task becomes one message on stderr and its exit code."""
    try:
        run_spec(args.spec, args.pipeline_root, args.param, sys.stdout)
    except KfpLocalError as exc:
        print(f"kfp-local failed: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
