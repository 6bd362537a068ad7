"""`python -m pipeline kfp-local`: a compiled KFP v2 spec run on this machine as KFP's driver and
launcher would. Small hand-written specs check the launcher (order, ExecutorInput, importer,
parameters, failures, what it refuses); the e2e test runs the tiny pipeline compiled with a
local root and compares it with the shared LocalDagRunner runs of the same config."""

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from models import sections
from pipeline.__main__ import main
from pipeline.config import config_sections, load_config
from pipeline.kubeflow.compiler import compile_pipeline
from pipeline.kubeflow.kfp_local import _executor_input, plan, task_order
from pipeline.kubeflow.settings import kfp_spec, spec_target
from tests.conftest import PIPELINE_COMPONENTS, REPO, tiny_config

# A container task: copies its input artifact (if any) with a suffix to its output artifact,
# reports metadata, and fails when asked to.
STEP = r"""
import json, os, sys
executor_input = json.loads(sys.argv[1])
values = executor_input["inputs"]["parameterValues"]
if values.get("fail"):
    print("step: the failure this task reports")
    sys.exit(3)
text = values["suffix"]
for listed in executor_input["inputs"].get("artifacts", {}).values():
    artifact = listed["artifacts"][0]
    kind = artifact["type"]  # a schema title (--target kfp) or an instance schema (vertex)
    assert kind.get("schemaTitle", kind.get("instanceSchema", "").split("\n")[0][7:]) == "system.Dataset", kind
    text = open(os.path.join(artifact["uri"], "data.txt")).read() + text + str(artifact["metadata"].get("n", ""))
output = executor_input["outputs"]["artifacts"]["out"]["artifacts"][0]
with open(os.path.join(output["uri"], "data.txt"), "w") as f:
    f.write(text)
output["metadata"] = {"n": len(text)}
with open(executor_input["outputs"]["outputFile"], "w") as f:
    json.dump({"artifacts": {"out": {"artifacts": [output]}}}, f)
"""
DATASET = {"artifactType": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}}
VERTEX_DATASET = {"artifactType": {"instanceSchema": "title: system.Dataset\ntype: object\n"}}


def step_task(upstream=None, suffix="", fail=None, output="out"):
    parameters = {"suffix": {"componentInputParameter": "suffix"} if suffix is None else constant(suffix)}
    if fail is not None:
        parameters["fail"] = constant(fail)
    task = {"componentRef": {"name": "step"}, "taskInfo": {"name": "step"}, "inputs": {"parameters": parameters}}
    if upstream:
        task["inputs"]["artifacts"] = {
            "data": {"taskOutputArtifact": {"producerTask": upstream, "outputArtifactKey": output}}
        }
        task["dependentTasks"] = [upstream]
    return task


def constant(value):
    return {"runtimeValue": {"constant": value}}


def write_spec(path, tasks, root="/tmp/kfp-local-root", args=("{{$}}",), dataset=DATASET):
    step_inputs = {"parameters": {"suffix": {"parameterType": "STRING"}, "fail": {"parameterType": "BOOLEAN"}}}
    spec = {
        "pipelineInfo": {"name": "toy"},
        "schemaVersion": "2.1.0",
        "sdkVersion": "tfx-1.16.0",
        "defaultPipelineRoot": root,
        "root": {
            "inputDefinitions": {"parameters": {"suffix": {"parameterType": "STRING", "defaultValue": "-default"}}},
            "dag": {"tasks": tasks},
        },
        "components": {
            "step": {
                "executorLabel": "step_executor",
                "inputDefinitions": {**step_inputs, "artifacts": {"data": dataset}},
                "outputDefinitions": {"artifacts": {"out": dataset}},
            },
            "source": {
                "executorLabel": "source_executor",
                "inputDefinitions": {"parameters": {"artifact_uri": {"parameterType": "STRING"}}},
                "outputDefinitions": {"artifacts": {"result": dataset}},
            },
        },
        "deploymentSpec": {
            "executors": {
                "step_executor": {
                    "container": {"image": "unused:latest", "command": ["python", "-c", STEP], "args": list(args)}
                },
                "source_executor": {
                    "importer": {
                        "artifactUri": {"runtimeParameter": "artifact_uri"},
                        "typeSchema": dataset["artifactType"],
                        "metadata": {"n": 7},
                    }
                },
            }
        },
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def importer_task(uri):
    return {
        "componentRef": {"name": "source"},
        "taskInfo": {"name": "source"},
        "inputs": {"parameters": {"artifact_uri": constant(uri)}},
    }


def only_run(root):
    [run_dir] = glob.glob(os.path.join(root, "toy", "local-*"))
    return run_dir


@pytest.mark.parametrize("dataset", [DATASET, VERTEX_DATASET], ids=["kfp", "vertex"])
def test_tasks_run_in_dag_order_with_artifacts_metadata_parameters_and_importers(tmp_path, capsys, dataset):
    source = tmp_path / "source"
    source.mkdir()
    (source / "data.txt").write_text("imported")
    tasks = {
        "c": step_task("b", suffix="-c"),
        "b": step_task("a", suffix=None),
        "a": step_task("source", suffix="-a", output="result"),
        "source": importer_task(str(source)),
    }
    spec = write_spec(tmp_path / "toy.yaml", tasks, dataset=dataset)
    assert task_order(yaml.safe_load(spec.read_text())) == ["source", "a", "b", "c"]
    root = tmp_path / "root"
    assert main(["kfp-local", str(spec), "--pipeline-root", str(root), "--param", "suffix=-param"]) == 0
    run_dir = only_run(root)
    # Each step appended its suffix (b's from --param) and the length its upstream reported as
    # metadata (a's from the importer's metadata): imported, -a 7, -param 11, -c 19.
    assert open(os.path.join(run_dir, "c", "out", "data.txt")).read() == "imported-a7-param11-c19"
    out = capsys.readouterr().out
    assert f"source             IMPORTED   {source}" in out
    for task in "abc":
        assert f"{task}                  RUNNING    log: {os.path.join(run_dir, task, 'log.txt')}" in out
        assert f"{task}                  SUCCEEDED  in " in out
    assert "succeeded: 4 tasks in " in out
    given = json.load(open(os.path.join(run_dir, "b", "executor_input.json")))
    assert given["inputs"]["parameterValues"] == {"suffix": "-param"}
    assert given["outputs"]["outputFile"] == os.path.join(run_dir, "b", "executor_output.json")
    assert given["inputs"]["artifacts"]["data"]["artifacts"][0]["type"] == dataset["artifactType"]


@pytest.mark.parametrize("target", ["kfp", "vertex"])
def test_both_compiled_targets_are_specs_kfp_local_runs(tmp_path, target):
    """The compiled spec's structure, not a run: every task is one kfp-local emulates, and each
    is given its inputs typed as its component declares them, in the target's form."""
    config = load_config(str(REPO / "pipeline.yaml"), [f"push.serving_dir={tmp_path / 'serving'}"])
    spec = compile_pipeline(config, str(tmp_path / "spec.yaml"), local_root=str(tmp_path / "root"), target=target)
    assert spec_target(spec) == target
    order = plan(spec)
    assert set(order) == PIPELINE_COMPONENTS
    params = {name: p["defaultValue"] for name, p in spec["root"]["inputDefinitions"]["parameters"].items()}
    produced = {}
    for name in order:
        given = _executor_input(spec, name, params, produced, str(tmp_path / "root" / name))
        produced[name] = {key: listed["artifacts"][0] for key, listed in given["outputs"]["artifacts"].items()}
        for listed in {**given["inputs"]["artifacts"], **given["outputs"]["artifacts"]}.values():
            kind = listed["artifacts"][0]["type"]
            assert set(kind) == ({"schemaTitle", "schemaVersion"} if target == "kfp" else {"instanceSchema"}), name
    assert order[-1] == "AtomicPusher"  # `given` is its input
    model_type = given["inputs"]["artifacts"]["model"]["artifacts"][0]["type"]
    assert (model_type.get("schemaTitle") or yaml.safe_load(model_type["instanceSchema"])["title"]) == "tfx.Model"
    if target == "vertex":
        assert kfp_spec(spec) == compile_pipeline(
            config, str(tmp_path / "kfp.yaml"), local_root=str(tmp_path / "root"), target="kfp"
        )


def test_a_failing_task_stops_the_run_with_its_own_error(tmp_path, capsys):
    tasks = {"a": step_task(suffix="-a"), "b": step_task("a", fail=True), "c": step_task("b")}
    spec = write_spec(tmp_path / "toy.yaml", tasks)
    assert main(["kfp-local", str(spec), "--pipeline-root", str(tmp_path / "root")]) == 1
    captured = capsys.readouterr()
    run_dir = only_run(tmp_path / "root")
    assert "b                  FAILED     exit 3 after " in captured.out
    assert captured.err.startswith(f"kfp-local failed: task b failed (exit 3); the end of its log {run_dir}/b/log.txt")
    assert "step: the failure this task reports" in captured.err
    assert not os.path.exists(os.path.join(run_dir, "c"))


@pytest.mark.parametrize(
    "args, change, message",
    [
        (
            ("{{$}}", "{{$.inputs.parameters['suffix']}}"),
            None,
            "task a: kfp-local cannot emulate placeholder {{$.inputs.parameters['suffix']}}",
        ),
        (("{{$}}",), ("triggerPolicy", {"condition": "true"}), "task a: kfp-local cannot emulate task triggerPolicy"),
        (
            ("{{$}}",),
            (
                "inputs",
                {"artifacts": {"data": {"taskOutputArtifact": {"producerTask": "gone", "outputArtifactKey": "x"}}}},
            ),
            "task a: kfp-local cannot emulate input artifact data from gone.x, which no task makes",
        ),
    ],
)
def test_what_it_cannot_emulate_is_one_error_naming_the_task(tmp_path, capsys, args, change, message):
    task = step_task(suffix="-a")
    if change:
        task[change[0]] = change[1]
    spec = write_spec(tmp_path / "toy.yaml", {"a": task}, args=args)
    assert main(["kfp-local", str(spec), "--pipeline-root", str(tmp_path / "root")]) == 2
    assert capsys.readouterr().err == f"kfp-local failed: {message}\n"
    assert not (tmp_path / "root").exists()  # refused before anything ran


def test_usage_errors(tmp_path, capsys):
    kubeflow = write_spec(tmp_path / "kubeflow.yaml", {"a": step_task()}, root="gs://bucket/root")
    assert main(["kfp-local", str(kubeflow)]) == 2
    assert "was compiled for Kubeflow (pipeline root gs://bucket/root)" in capsys.readouterr().err
    spec = write_spec(tmp_path / "toy.yaml", {"a": step_task()})
    assert main(["kfp-local", str(spec), "--pipeline-root", "gs://bucket/root"]) == 2
    assert "--pipeline-root 'gs://bucket/root': kfp-local writes artifacts to a folder" in capsys.readouterr().err
    assert main(["kfp-local", str(spec), "--param", "nope=1"]) == 2
    assert "--param nope: the pipeline has no such parameter (it has: suffix)" in capsys.readouterr().err
    assert main(["kfp-local", str(tmp_path / "absent.yaml")]) == 2
    assert "compile it: python -m pipeline compile --local-root DIR --output" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(1800)  # 3-4 minutes idle, and the shared runs first when it is the first to use them
@pytest.mark.parametrize("target", ["kfp", "vertex"])
def test_the_compiled_tiny_pipeline_runs_like_local_dag_runner(tiny_runs, tmp_path, target):
    """kfp-local (the CLI, in a subprocess) runs the tiny pipeline compiled for `target` and
    does what LocalDagRunner did in the shared runs: its Trainer gets one epoch through a
    `--param` override of the compiled default, what LocalDagRunner's Trainer gets from the
    config with `training.epochs=1`. The compiled config has the tiny gates (all off), so the
    student is blessed and pushed, as in the shared `full` run."""
    one_epoch = tiny_config(tiny_runs["tmp"], ["training.epochs=1"])
    spec_path = tmp_path / f"{target}.yaml"
    compiled = tiny_config(tiny_runs["tmp"], [f"push.serving_dir={tmp_path / 'serving'}"])
    spec = compile_pipeline(compiled, str(spec_path), local_root=str(tmp_path / "root"), target=target)
    default = spec["root"]["inputDefinitions"]["parameters"]["trainer_config"]["defaultValue"]
    trainer_config = json.loads(default)
    assert trainer_config["training"]["epochs"] == 2
    trainer_config["training"]["epochs"] = 1
    command = [sys.executable, "-m", "pipeline", "kfp-local", str(spec_path)]
    command += ["--param", f"trainer_config={json.dumps(trainer_config)}"]
    temp = tmp_path / "temp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp))
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1500, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert os.listdir(temp) == []  # no task's temp files (TFX sdists, autograph) are left behind
    [run_dir] = glob.glob(str(tmp_path / "root" / "pqrnn-distill" / "local-*"))
    tasks = {line.split()[1] for line in output.splitlines() if line.split()[2:3] == ["SUCCEEDED"]}
    assert tasks == set(tiny_runs["full"].executions) == PIPELINE_COMPONENTS

    # The Trainer read the override: what LocalDagRunner's Trainer got, not the compiled default.
    given = json.load(open(os.path.join(run_dir, "Trainer", "executor_input.json")))
    custom_config = given["inputs"]["parameterValues"]["custom_config"]
    assert json.loads(custom_config) == config_sections(one_epoch, list(sections.TRAINER)) != json.loads(default)
    assert repr(custom_config) in open(os.path.join(run_dir, "Trainer", "log.txt")).read()  # its exec_properties

    # Blessed and pushed, as LocalDagRunner's full run was.
    assert tiny_runs["full"].summary.blessed
    assert os.path.exists(os.path.join(run_dir, "Evaluator", "blessing", "BLESSED")), target
    pushed = json.load(open(os.path.join(run_dir, "AtomicPusher", "executor_output.json")))
    metadata = pushed["artifacts"]["pushed_model"]["artifacts"][0]["metadata"]
    assert metadata["pushed"] == 1.0
    serving = tmp_path / "serving"
    [version] = os.listdir(serving)
    assert metadata["pushed_destination"] == str(serving / version)
    assert os.path.exists(serving / version / "assets.extra" / "student_int8.tflite")
