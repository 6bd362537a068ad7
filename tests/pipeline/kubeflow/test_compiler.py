"""`python -m pipeline compile`: the KFP v2 spec KubeflowV2DagRunner writes from create_pipeline."""

import copy
import importlib
import json
import re
import subprocess
import sys

import pytest
import yaml

import config_core
from beam_jobs.config import UnlabeledSource
from config_core import ConfigError
from models import sections
from pipeline.__main__ import main
from pipeline.config import config_to_json, load_config
from pipeline.kubeflow.compiler import IMAGE_SOURCE_DIR, kubeflow_pipeline
from pipeline.kubeflow.settings import CONFIG_PARAMETERS, kfp_spec, spec_target
from pipeline.pipeline import create_pipeline
from tests.conftest import PIPELINE_COMPONENTS as ALL_COMPONENTS
from tests.conftest import REPO

SHIPPED = str(REPO / "pipeline.yaml")
GPU_COMPONENTS = {"TeacherFinetune", "TeacherInference", "Trainer"}
# Each config-reading task: the exec property its sections arrive in, and its run parameter.
CONFIG_READERS = {
    "DatasetGen": ("config_json", "dataset_config"),
    "Augment": ("config_json", "augment_config"),
    "TeacherFinetune": ("config_json", "teacher_finetune_config"),
    "TeacherInference": ("config_json", "teacher_inference_config"),
    "Trainer": ("custom_config", "trainer_config"),
}
TEACHER_SIDE = ("DatasetGen", "Augment", "TeacherFinetune", "TeacherInference")


def compile_spec(tmp_path, *overrides, target="kfp"):
    output = tmp_path / f"{target}.yaml"
    args = ["compile", "--config", SHIPPED, "--output", str(output), "--target", target]
    for override in overrides:
        args += ["--set", override]
    assert main(args) == 0
    return yaml.safe_load(output.read_text()), output


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return compile_spec(tmp_path_factory.mktemp("kfp"))


def executor(spec, task):
    label = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    return spec["deploymentSpec"]["executors"][spec["components"][label]["executorLabel"]]["container"]


def test_cli_compiles_the_shipped_config_offline(tmp_path):
    output = tmp_path / "pipeline.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "compile", "--config", SHIPPED, "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {output} for kfp: 12 tasks" in result.stdout
    assert "REGISTRY/pqrnn-distill-gpu:latest" in result.stdout
    assert yaml.safe_load(output.read_text())["pipelineInfo"]["name"] == "pqrnn-distill"


def test_every_component_of_create_pipeline_is_a_task(compiled):
    spec, _ = compiled
    config = load_config(SHIPPED)
    local_ids = {c.id for c in create_pipeline(config, "/tmp/root", "/tmp/serving").components}
    assert set(spec["root"]["dag"]["tasks"]) == local_ids == ALL_COMPONENTS
    # The DAG keeps its edges, e.g. the trainer learns from the teacher's soft labels.
    assert "TeacherInference" in spec["root"]["dag"]["tasks"]["Trainer"]["dependentTasks"]
    assert spec["schemaVersion"] == "2.1.0"


def test_executors_and_user_code_are_importable_dotted_paths(compiled):
    spec, _ = compiled
    for task in ALL_COMPONENTS:
        container = executor(spec, task)
        assert container["command"][:3] == [
            "python",
            "-m",
            "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
        ]
        path = container["args"][container["args"].index("--executor_class_path") + 1]
        module, _, name = path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), path
    dotted = {
        "Trainer": ("run_fn", "models.train.run_fn"),
        "Transform": ("preprocessing_fn", "models.preprocessing.preprocessing_fn"),
    }
    for task, (key, expected) in dotted.items():
        assert spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][key]["runtimeValue"]["constant"] == expected
        module, _, name = expected.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
    assert "module_file" not in json.dumps(spec)  # no wheel built at compile time


def test_images_and_resources_per_component(compiled):
    spec, _ = compiled
    for task in ALL_COMPONENTS:
        container = executor(spec, task)
        resources = container["resources"]
        if task in GPU_COMPONENTS:
            assert container["image"] == "REGISTRY/pqrnn-distill-gpu:latest", task
            assert resources == {
                "cpuLimit": 8.0,
                "memoryLimit": 32.0,
                "accelerator": {"type": "nvidia.com/gpu", "count": "1"},
            }
        else:
            assert container["image"] == "REGISTRY/pqrnn-distill:latest", task
            assert resources == {"cpuLimit": 4.0, "memoryLimit": 16.0}, task


def test_each_config_reader_has_its_own_run_parameter_defaulting_to_its_sections(compiled):
    spec, _ = compiled
    declared = spec["root"]["inputDefinitions"]["parameters"]
    assert set(declared) == {name for _, name in CONFIG_READERS.values()}  # no whole-config parameter
    config = load_config(SHIPPED)
    config.teacher.cache_dir = f"{IMAGE_SOURCE_DIR}/.cache/teachers"  # not this machine's
    for task, (key, name) in CONFIG_READERS.items():
        assert CONFIG_PARAMETERS[task][0] == name
        section_types = CONFIG_PARAMETERS[task][1]
        assert declared[name]["parameterType"] == "STRING"
        assert declared[name]["defaultValue"] == config_to_json(config, list(section_types)), name
        assert config_core.sections(json.loads(declared[name]["defaultValue"]), section_types)
        assert spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][key] == {"componentInputParameter": name}
        # No other task is given it, so changing it re-runs this task and what follows only.
        users = [t for t, task_spec in spec["root"]["dag"]["tasks"].items() if name in json.dumps(task_spec["inputs"])]
        assert users == [task]
    assert spec["defaultPipelineRoot"] == "gs://YOUR_BUCKET/pqrnn-distill"


def test_a_student_only_change_leaves_the_teacher_side_tasks_byte_identical(compiled, tmp_path):
    """What KFP's cache key is made of (the task, its component and executor, its parameter
    values) stays the same for the tasks before the Trainer; only trainer_config changes."""
    spec, _ = compiled
    changed, _ = compile_spec(tmp_path, "training.epochs=3", "student.qrnn.state_size=96")

    def parts(spec, task):
        task_spec = spec["root"]["dag"]["tasks"][task]
        component = spec["components"][task_spec["componentRef"]["name"]]
        parameter = spec["root"]["inputDefinitions"]["parameters"][CONFIG_READERS[task][1]]
        executor_spec = spec["deploymentSpec"]["executors"][component["executorLabel"]]
        return json.dumps([task_spec, component, executor_spec, parameter], sort_keys=True)

    for task in TEACHER_SIDE:
        assert parts(changed, task) == parts(spec, task), task
    assert parts(changed, "Trainer") != parts(spec, "Trainer")
    trainer = json.loads(changed["root"]["inputDefinitions"]["parameters"]["trainer_config"]["defaultValue"])
    assert trainer["training"]["epochs"] == 3 and trainer["student"]["qrnn"]["state_size"] == 96
    # Nothing else in the whole spec changed.
    before, after = copy.deepcopy(spec), copy.deepcopy(changed)
    for side in (before, after):
        del side["root"]["inputDefinitions"]["parameters"]["trainer_config"]["defaultValue"]
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_local_root_compiles_a_spec_of_this_machine_for_kfp_local(tmp_path, capsys):
    output = tmp_path / "local.yaml"
    root = tmp_path / "root"
    assert main(["compile", "--config", SHIPPED, "--local-root", str(root), "--output", str(output)]) == 0
    assert f"python -m pipeline kfp-local {output}" in capsys.readouterr().out
    spec = yaml.safe_load(output.read_text())
    config = load_config(SHIPPED)
    assert spec["defaultPipelineRoot"] == str(root)
    tasks = spec["root"]["dag"]["tasks"]
    schema = tasks["ImportSchemaGen"]["inputs"]["parameters"]["schema_file"]["runtimeValue"]["constant"]
    assert schema == str(REPO / "schemas" / "dataset" / "schema.pbtxt")
    push = json.loads(tasks["AtomicPusher"]["inputs"]["parameters"]["push_destination"]["runtimeValue"]["constant"])
    assert push["filesystem"]["base_directory"] == config.push.serving_dir
    finetune = json.loads(spec["root"]["inputDefinitions"]["parameters"]["teacher_finetune_config"]["defaultValue"])
    assert finetune["teacher"]["cache_dir"] == config.teacher.cache_dir
    assert f"{IMAGE_SOURCE_DIR}/" not in json.dumps(spec["root"])

    assert main(["compile", "--config", SHIPPED, "--local-root", "gs://b/root", "--output", str(output)]) == 2
    assert "config error: --local-root: 'gs://b/root' is a URI" in capsys.readouterr().err


def test_compiled_paths_point_into_the_image(compiled):
    spec, _ = compiled
    schema = spec["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"]["schema_file"]["runtimeValue"][
        "constant"
    ]
    assert schema.startswith(IMAGE_SOURCE_DIR + "/")
    assert (REPO / schema[len(IMAGE_SOURCE_DIR) + 1 :]).is_file()
    push = spec["root"]["dag"]["tasks"]["AtomicPusher"]["inputs"]["parameters"]["push_destination"]["runtimeValue"][
        "constant"
    ]
    assert json.loads(push)["filesystem"]["base_directory"] == "gs://YOUR_BUCKET/pqrnn-distill/serving"


def test_kfp_loads_the_compiled_spec(compiled):
    import kfp.components
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec, path = compiled
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # strict: unknown fields fail
    component = kfp.components.load_component_from_file(str(path))
    assert component.name == "pqrnn-distill"
    assert {name for _, name in CONFIG_READERS.values()} == set(component.component_spec.inputs)


def test_overrides_name_the_images_and_route_beam_components(tmp_path):
    spec, _ = compile_spec(
        tmp_path,
        "kubeflow.cpu_image=gcr.io/p/pqrnn-distill:v7",
        "kubeflow.gpu_image=gcr.io/p/pqrnn-distill-gpu:v7",
        "beam.component_profiles={TeacherInference: dataflow_gpu}",
        "kubeflow.pipeline_root=s3://bucket/root",
    )
    assert executor(spec, "Trainer")["image"] == "gcr.io/p/pqrnn-distill-gpu:v7"
    assert executor(spec, "Evaluator")["image"] == "gcr.io/p/pqrnn-distill:v7"
    inference_args = executor(spec, "TeacherInference")["args"]
    # The component's profile comes after the pipeline's, so its runner wins.
    assert inference_args.index("--runner=DataflowRunner") > inference_args.index("--runner=FnApiRunner")
    assert any(a.startswith("--dataflow_service_options=worker_accelerator=") for a in inference_args)
    assert "--runner=DataflowRunner" not in executor(spec, "DatasetGen")["args"]
    assert spec["defaultPipelineRoot"] == "s3://bucket/root"


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "kubeflow.pipeline_root=minio://mlpipeline/v2",
            "kubeflow.pipeline_root: 'minio://mlpipeline/v2' is not a gs:// or s3:// URI",
        ),
        ("kubeflow.pipeline_root=runs/kfp", "kubeflow.pipeline_root: 'runs/kfp' is not a gs:// or s3:// URI"),
        ("kubeflow.serving_dir=/srv/models", "kubeflow.serving_dir: '/srv/models' is not a gs:// or s3:// URI"),
        ("kubeflow.gpu_components=[Trainr]", "kubeflow.gpu_components[0]: 'Trainr' is not a component"),
        ("kubeflow.gpu_resources.memory=lots", "kubeflow.gpu_resources.memory: expected memory like '16G'"),
        ("kubeflow.gpu_resources.gpu_type=null", "kubeflow.gpu_resources.gpu_type: required when gpu_count > 0"),
        ("beam.component_profiles={Trainer: dataflow}", "beam.component_profiles.Trainer: not a Beam component"),
    ],
)
def test_compile_errors_exit_2_naming_the_key(tmp_path, capsys, override, message):
    output = tmp_path / "spec.yaml"
    assert main(["compile", "--config", SHIPPED, "--set", override, "--output", str(output)]) == 2
    assert capsys.readouterr().err.startswith(f"config error: {message}")
    assert not output.exists()


def test_local_data_files_are_refused(tmp_path):
    config = load_config(SHIPPED)
    config.data.paths = [str(tmp_path / "train.jsonl")]
    with pytest.raises(ConfigError, match=r"data\.paths\[0\]: .* is not a gs:// or s3:// URI"):
        kubeflow_pipeline(config)


def test_local_unlabelled_files_are_refused(tmp_path):
    config = load_config(SHIPPED)
    config.data.unlabeled = [UnlabeledSource(path=str(tmp_path / "traffic.txt"))]
    with pytest.raises(ConfigError, match=r"data\.unlabeled\[0\]\.path: .* is not a gs:// or s3:// URI"):
        kubeflow_pipeline(config)


def test_local_pipeline_gives_each_component_its_config_sections():
    config = load_config(SHIPPED, ["training.epochs=3", "teacher.inference.max_batch_size=32"])
    by_id = {c.id: c for c in create_pipeline(config, "/tmp/root", "/tmp/serving").components}

    def given(component_id, key="config_json"):
        value = by_id[component_id].exec_properties[key]
        return json.loads(value) if isinstance(value, str) else value

    # All of `data` but the unlabelled inputs (Augment's alone).
    data = {key: value for key, value in config.to_dict()["data"].items() if key != "unlabeled"}
    assert given("DatasetGen") == {"data": data, "project": {"seed": config.project.seed}}
    dataset = config_core.sections(given("DatasetGen"), sections.DATASET)
    assert sections.data_config(dataset) == config.data and dataset["project.seed"] == config.project.seed
    assert set(given("TeacherInference")) == {"teacher"} and set(given("TeacherInference")["teacher"]) == {"inference"}
    assert config_core.sections(given("TeacherInference"), sections.TEACHER_INFERENCE) == {
        "teacher.inference": config.teacher.inference
    }
    # run_fn reads exactly these sections from the Trainer's custom config.
    trainer = config_core.sections(given("Trainer", "custom_config"), sections.TRAINER)
    assert trainer == {
        "project.seed": 42,
        "student": config.student,
        "distillation": config.distillation,
        "training": config.training,
    }
    # A section a stage reads but is not given is an error, never silent defaults.
    with pytest.raises(ConfigError, match=r"^student: missing"):
        config_core.sections(
            given("TeacherInference"), {**sections.TEACHER_INFERENCE, "student": sections.TRAINER["student"]}
        )
    # A student-side change leaves what the teacher stages are given, hence their cache, as it was.
    other = {c.id: c for c in create_pipeline(load_config(SHIPPED), "/tmp/root", "/tmp/serving").components}
    for component in ("DatasetGen", "Augment", "TeacherFinetune"):
        assert other[component].exec_properties == by_id[component].exec_properties, component
    assert other["TeacherInference"].exec_properties != by_id["TeacherInference"].exec_properties


def test_image_files_build_from_tfx_1_16_with_the_lock_and_the_project():
    for name in ("Dockerfile", "Dockerfile.gpu"):
        text = (REPO / "docker" / name).read_text()
        assert re.search(r"^ARG TFX_IMAGE=gcr\.io/tfx-oss-public/tfx:1\.16\.0$", text, re.M), name
        assert re.search(r"^FROM \$\{TFX_IMAGE\}$", text, re.M), name
        assert f"WORKDIR {IMAGE_SOURCE_DIR}" in text and f"pip install --no-deps -e {IMAGE_SOURCE_DIR}" in text, name
        assert "COPY requirements.lock" in text and "-r " in text, name
    assert "download.pytorch.org/whl/cpu" in (REPO / "docker" / "Dockerfile").read_text()
    excluded = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".git", "runs"} <= set(excluded)


def test_make_image_builds_and_pushes_the_configured_tags():
    result = subprocess.run(
        ["make", "-n", "image", "REGISTRY=gcr.io/p", "TAG=v7"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "docker build -f docker/Dockerfile -t gcr.io/p/pqrnn-distill:v7 ." in lines
    assert "docker build -f docker/Dockerfile.gpu -t gcr.io/p/pqrnn-distill-gpu:v7 ." in lines
    assert "docker push gcr.io/p/pqrnn-distill-gpu:v7" in lines
    # The shipped config names the same images with the REGISTRY placeholder.
    kubeflow = load_config(SHIPPED).kubeflow
    assert (kubeflow.cpu_image, kubeflow.gpu_image) == (
        "REGISTRY/pqrnn-distill:latest",
        "REGISTRY/pqrnn-distill-gpu:latest",
    )


def test_an_imported_teacher_compiles_with_the_default_gpu_components(tmp_path):
    spec, _ = compile_spec(tmp_path, "teacher.finetuned_path=gs://bucket/teacher")
    tasks = spec["root"]["dag"]["tasks"]
    assert "TeacherImporter" in tasks and "TeacherFinetune" not in tasks
    assert executor(spec, "TeacherInference")["image"] == "REGISTRY/pqrnn-distill-gpu:latest"


def artifact_types(spec):
    """{(component, side, key): type} of every component artifact, and the importers' by label."""
    found = {}
    for name, component in spec["components"].items():
        for side in ("inputDefinitions", "outputDefinitions"):
            for key, definition in component.get(side, {}).get("artifacts", {}).items():
                found[name, side, key] = definition.get("artifactType")
    for label, executor in spec["deploymentSpec"]["executors"].items():
        if "importer" in executor:
            found[label, "importer", ""] = executor["importer"].get("typeSchema")
    return found


def test_the_two_targets_differ_only_in_artifact_types(compiled, tmp_path):
    kfp, kfp_path = compiled
    vertex, vertex_path = compile_spec(tmp_path, target="vertex")
    assert kfp_path.read_text().startswith("# KFP v2 pipeline spec of pqrnn-distill for kfp,")
    assert vertex_path.read_text().startswith("# KFP v2 pipeline spec of pqrnn-distill for vertex,")
    assert (spec_target(kfp), spec_target(vertex)) == ("kfp", "vertex")
    # Vertex: KubeflowV2DagRunner's instance schemas, as it writes them.
    trainer_examples = vertex["components"]["Trainer"]["inputDefinitions"]["artifacts"]["examples"]["artifactType"]
    assert list(trainer_examples) == ["instanceSchema"]
    assert yaml.safe_load(trainer_examples["instanceSchema"])["title"] == "tfx.Examples"
    assert "split_names" in yaml.safe_load(trainer_examples["instanceSchema"])["properties"]
    # KFP: every type a schema title with a version, TFX's title kept.
    assert "instanceSchema" not in json.dumps(kfp)
    assert artifact_types(kfp)["Trainer", "inputDefinitions", "examples"] == {
        "schemaTitle": "tfx.Examples",
        "schemaVersion": "0.0.1",
    }
    assert artifact_types(kfp)["AtomicPusher", "outputDefinitions", "pushed_model"] == {
        "schemaTitle": "tfx.PushedModel",
        "schemaVersion": "0.0.1",
    }
    vertex_types, kfp_types = artifact_types(vertex), artifact_types(kfp)
    assert set(vertex_types) == set(kfp_types) and len(kfp_types) > 20
    for where, vertex_type in vertex_types.items():
        assert kfp_types[where]["schemaTitle"] == yaml.safe_load(vertex_type["instanceSchema"])["title"], where

    # The copy of the inputs spec the TFX executor is given carries the same types.
    def inputs_spec(spec):
        args = executor(spec, "Trainer")["args"]
        return json.loads(args[args.index("--json_serialized_inputs_spec_args") + 1])

    assert (
        inputs_spec(kfp)["artifacts"]["examples"]["artifactType"]
        == artifact_types(kfp)["Trainer", "inputDefinitions", "examples"]
    )
    assert inputs_spec(kfp)["parameters"] == inputs_spec(vertex)["parameters"]
    assert "instanceSchema" in inputs_spec(vertex)["artifacts"]["examples"]["artifactType"]
    # Nothing else differs: the DAG, parameters, executors and images are the same.
    assert kfp_spec(vertex) == kfp


def test_an_imported_teacher_is_typed_for_both_targets(tmp_path):
    kfp, _ = compile_spec(tmp_path, "teacher.finetuned_path=gs://bucket/teacher")
    vertex, _ = compile_spec(tmp_path, "teacher.finetuned_path=gs://bucket/teacher", target="vertex")
    [(label, _, _)] = [where for where in artifact_types(kfp) if where[1] == "importer"]
    assert artifact_types(kfp)[label, "importer", ""] == {"schemaTitle": "tfx.Model", "schemaVersion": "0.0.1"}
    assert "title: tfx.Model" in artifact_types(vertex)[label, "importer", ""]["instanceSchema"]


def toy_spec(consumer_type, producer_type, importer_type=None):
    """A producer task, a consumer of its output, and an importer, with the given types."""
    spec = {
        "root": {
            "dag": {
                "tasks": {
                    "make": {"componentRef": {"name": "make"}},
                    "use": {
                        "componentRef": {"name": "use"},
                        "inputs": {
                            "artifacts": {
                                "data": {"taskOutputArtifact": {"producerTask": "make", "outputArtifactKey": "out"}}
                            }
                        },
                    },
                    "load": {"componentRef": {"name": "load"}},
                }
            }
        },
        "components": {
            "make": {"executorLabel": "make_exec", "outputDefinitions": {"artifacts": {"out": {}}}},
            "use": {"executorLabel": "use_exec", "inputDefinitions": {"artifacts": {"data": {}}}},
            "load": {"executorLabel": "load_exec", "outputDefinitions": {"artifacts": {"result": {}}}},
        },
        "deploymentSpec": {
            "executors": {
                "make_exec": {"container": {}},
                "use_exec": {"container": {}},
                "load_exec": {"importer": {"artifactUri": {"constant": "gs://b/m"}}},
            }
        },
    }
    for component, side, key, artifact_type in (
        ("make", "outputDefinitions", "out", producer_type),
        ("use", "inputDefinitions", "data", consumer_type),
        ("load", "outputDefinitions", "result", {"instanceSchema": "title: tfx.Model\ntype: object\n"}),
    ):
        if artifact_type is not None:
            spec["components"][component][side]["artifacts"][key]["artifactType"] = artifact_type
    if importer_type is not None:
        spec["deploymentSpec"]["executors"]["load_exec"]["importer"]["typeSchema"] = importer_type
    return spec


EXAMPLES = {"schemaTitle": "tfx.Examples", "schemaVersion": "0.0.1"}


@pytest.mark.parametrize(
    "consumer_type",
    [None, {}, {"instanceSchema": ""}, {"instanceSchema": None}, {"instanceSchema": "type: object\n"}],
    ids=["missing", "empty", "empty-schema", "null-schema", "untitled-schema"],
)
def test_kfp_spec_gives_an_untyped_input_its_producers_type(consumer_type):
    vertex = toy_spec(consumer_type, {"instanceSchema": "title: tfx.Examples\ntype: object\n"})
    before = copy.deepcopy(vertex)
    kfp = kfp_spec(vertex)
    assert vertex == before  # a pure function: the argument is left as it was
    assert kfp["components"]["use"]["inputDefinitions"]["artifacts"]["data"]["artifactType"] == EXAMPLES
    assert kfp["components"]["make"]["outputDefinitions"]["artifacts"]["out"]["artifactType"] == EXAMPLES
    # The importer without a type schema takes its component's output type.
    assert kfp["deploymentSpec"]["executors"]["load_exec"]["importer"]["typeSchema"] == {
        "schemaTitle": "tfx.Model",
        "schemaVersion": "0.0.1",
    }
    assert kfp_spec(kfp) == kfp  # and idempotent


def test_kfp_spec_keeps_schema_titles_and_names_what_has_no_type():
    typed = {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.2"}
    kfp = kfp_spec(toy_spec(None, typed, importer_type=typed))
    assert kfp["components"]["use"]["inputDefinitions"]["artifacts"]["data"]["artifactType"] == typed
    assert spec_target(kfp) == "kfp"
    with pytest.raises(ValueError, match=r"^no artifact type for component make output artifact out$"):
        kfp_spec(toy_spec({"instanceSchema": "title: tfx.Examples"}, None))
    with pytest.raises(ValueError, match=r"component make output artifact out, component use input artifact data$"):
        kfp_spec(toy_spec(None, {"instanceSchema": ""}))


def test_adding_unlabelled_traffic_keeps_the_dataset_and_the_teacher_fine_tune_cached(tmp_path):
    (tmp_path / "traffic.txt").write_text("turn on the porch light\n")
    shipped = {c.id: c for c in create_pipeline(load_config(SHIPPED), "/tmp/root", "/tmp/serving").components}
    traffic = load_config(SHIPPED, [f"data.unlabeled=[{{path: {tmp_path / 'traffic.txt'}, lang: en}}]"])
    with_traffic = {c.id: c for c in create_pipeline(traffic, "/tmp/root", "/tmp/serving").components}
    for component in ("DatasetGen", "TeacherFinetune", "TeacherInference", "Trainer"):
        assert with_traffic[component].exec_properties == shipped[component].exec_properties, component
    assert with_traffic["Augment"].exec_properties != shipped["Augment"].exec_properties
