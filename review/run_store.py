"""The one reader of a pipeline's MLMD store (read-only), for the run summary, the report and
the benchmarks.

TFX records a run as a `pipeline_run` context (named by the run id) whose parent is the
`pipeline` context (named by the pipeline); each execution is also attributed to a `node`
context named `<pipeline>.<component id>`, which is how an execution is tied to its
component. Events link executions to the artifacts they read and wrote, keyed by the
component's input / output names; a cached execution has OUTPUT events to the artifacts it
reused. Models are found by the component that produced them, never by what their folder
holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

PIPELINE_CONTEXT, RUN_CONTEXT, NODE_CONTEXT = "pipeline", "pipeline_run", "node"
INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)


class RunStoreError(Exception):
    """No run to read (no store, an unreadable one, no run, unknown run): the message says why."""


@dataclass
class Artifact:
    """An artifact of a run; `producer` is the component whose execution in the run output it."""

    id: int
    type: str
    uri: str
    created_ms: int
    properties: Dict[str, Any]
    producer: str = ""


@dataclass
class Execution:
    """One component's execution: state, MLMD times, properties, and artifact ids by input / output key."""

    id: int
    component: str
    state: str
    started_ms: int
    finished_ms: int
    properties: Dict[str, Any]
    inputs: Dict[str, List[int]] = field(default_factory=dict)
    outputs: Dict[str, List[int]] = field(default_factory=dict)


@dataclass
class Run:
    """One `pipeline_run` context with its executions (in start order) and artifacts."""

    id: str
    context_id: int
    pipeline: str
    created_ms: int
    metadata_path: str
    executions: List[Execution]
    artifacts: Dict[int, Artifact]
    not_reached: List[str]

    def execution(self, component: str) -> Optional[Execution]:
        """The component's (last) execution in this run."""
        found = [e for e in self.executions if e.component == component]
        return found[-1] if found else None

    def artifact(self, component: str, key: str, direction: str = "outputs") -> Optional[Artifact]:
        """The artifact a component's execution in this run read (`inputs`) or wrote under `key`."""
        execution = self.execution(component)
        ids = getattr(execution, direction).get(key, []) if execution else []
        return self.artifacts.get(ids[-1]) if ids else None

    def student_model(self) -> Optional[Artifact]:
        """The Trainer's Model."""
        return self.artifact("Trainer", "model")

    def teacher_model(self) -> Optional[Artifact]:
        """The fine-tuned teacher: TeacherFinetune's Model, or the TeacherImporter's."""
        return self.artifact("TeacherFinetune", "model") or self.artifact("TeacherImporter", "result")

    def blessed(self) -> bool:
        """Whether the Evaluator blessed the student."""
        blessing = self.artifact("Evaluator", "blessing")
        return blessing is not None and blessing.properties.get("blessed") == 1

    def pushed_to(self) -> Optional[str]:
        """Where the pusher published the student, or None when it pushed nothing."""
        pushed = self.artifact("AtomicPusher", "pushed_model")
        return pushed.properties.get("pushed_destination") if pushed and pushed.properties.get("pushed") == 1 else None


def local_metadata_path(pipeline_root: str) -> str:
    """The MLMD store of a local run, by LocalDagRunner's layout: `<root>/../metadata/metadata.sqlite`."""
    return os.path.join(os.path.dirname(os.path.abspath(pipeline_root.rstrip("/"))), "metadata", "metadata.sqlite")


def choose_metadata_path(metadata: Optional[str], pipeline_root: Optional[str], default: str) -> str:
    """The store a command line names: `--metadata`, else that of `--pipeline-root`, else `default`."""
    if metadata:
        return metadata
    return local_metadata_path(pipeline_root) if pipeline_root else default


def _value(value: metadata_store_pb2.Value) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("int_value", "double_value", "string_value", "bool_value") else str(value)


def open_store(metadata_path: str) -> mlmd.MetadataStore:
    """The sqlite MLMD store, read-only (a review never changes what it reviews)."""
    if not os.path.isfile(metadata_path):
        raise RunStoreError(
            f"no pipeline run: there is no metadata store at {metadata_path} (run `python -m pipeline run` first)"
        )
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return mlmd.MetadataStore(config)
    except Exception as exc:  # noqa: BLE001 - MLMD raises its own error types for unreadable stores
        raise RunStoreError(f"{metadata_path} is not a readable MLMD store: {str(exc)[:160]}") from None


def list_runs(store: mlmd.MetadataStore, pipeline_name: str) -> List[metadata_store_pb2.Context]:
    """The pipeline's runs, oldest first."""
    runs = []
    for run in store.get_contexts_by_type(RUN_CONTEXT):
        parents = store.get_parent_contexts_by_context(run.id)
        if any(p.type == PIPELINE_CONTEXT and p.name == pipeline_name for p in parents):
            runs.append(run)
    return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))


def _find_run(
    store: mlmd.MetadataStore, metadata_path: str, pipeline_name: str, run: str
) -> metadata_store_pb2.Context:
    runs = list_runs(store, pipeline_name)
    if not runs:
        others = sorted({c.name for c in store.get_contexts_by_type(PIPELINE_CONTEXT)} - {pipeline_name})
        hint = f"; it holds runs of {', '.join(others)} (set project.name)" if others else ""
        raise RunStoreError(f"no pipeline run of '{pipeline_name}' in {metadata_path}{hint}")
    if run == "latest":
        return runs[-1]
    matches = [c for c in runs if c.name == run or str(c.id) == run]
    if not matches:
        recent = ", ".join(c.name for c in runs[-5:])
        raise RunStoreError(f"no run '{run}' of '{pipeline_name}' in {metadata_path}; latest runs: {recent}")
    return matches[0]


def load_run(store: mlmd.MetadataStore, metadata_path: str, pipeline_name: str, run: str = "latest") -> Run:
    """Read run `run` ("latest", a run id such as 2026-11-24T01:40:57.052301, or its context id)."""
    context = _find_run(store, metadata_path, pipeline_name, run)
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    artifacts = {
        a.id: Artifact(
            a.id,
            artifact_types[a.type_id],
            a.uri,
            a.create_time_since_epoch,
            {k: _value(v) for k, v in a.custom_properties.items()},
        )
        for a in store.get_artifacts_by_context(context.id)
    }
    prefix = pipeline_name + "."
    executions = []
    for e in store.get_executions_by_context(context.id):
        nodes = [c.name for c in store.get_contexts_by_execution(e.id) if c.type == NODE_CONTEXT]
        executions.append(
            Execution(
                id=e.id,
                component=nodes[0][len(prefix) :] if nodes else str(e.type),
                state=metadata_store_pb2.Execution.State.Name(e.last_known_state),
                started_ms=e.create_time_since_epoch,
                finished_ms=e.last_update_time_since_epoch,
                properties={k: _value(v) for k, v in e.custom_properties.items()},
            )
        )
    executions.sort(key=lambda e: (e.started_ms, e.id))
    by_id = {e.id: e for e in executions}
    for event in store.get_events_by_execution_ids(list(by_id)):
        key = event.path.steps[0].key if event.path.steps else ""
        execution = by_id[event.execution_id]
        if event.type in INPUT_EVENTS:
            execution.inputs.setdefault(key, []).append(event.artifact_id)
        elif event.type in OUTPUT_EVENTS:
            execution.outputs.setdefault(key, []).append(event.artifact_id)
            if event.artifact_id in artifacts:
                artifacts[event.artifact_id].producer = execution.component
    ran = {e.component for e in executions}
    # Node contexts appear when a node first runs: those of earlier runs that this run never reached.
    nodes = [c.name[len(prefix) :] for c in store.get_contexts_by_type(NODE_CONTEXT) if c.name.startswith(prefix)]
    return Run(
        id=context.name,
        context_id=context.id,
        pipeline=pipeline_name,
        created_ms=context.create_time_since_epoch,
        metadata_path=metadata_path,
        executions=executions,
        artifacts=artifacts,
        not_reached=[n for n in nodes if n not in ran],
    )


def cache_source(store: mlmd.MetadataStore, execution: Execution) -> Optional[Execution]:
    """For a CACHED execution, the COMPLETE execution (of an earlier run) that wrote the outputs
    it reused: the one whose times tell what the stage costs. None for any other execution."""
    outputs = [i for ids in execution.outputs.values() for i in ids]
    if execution.state != "CACHED" or not outputs:
        return None
    producers = [
        e.execution_id
        for e in store.get_events_by_artifact_ids(outputs)
        if e.type == metadata_store_pb2.Event.OUTPUT and e.execution_id != execution.id
    ]
    complete = [
        e for e in store.get_executions_by_id(producers) if e.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    if not complete:
        return None
    original = complete[0]
    return Execution(
        id=original.id,
        component=execution.component,
        state="COMPLETE",
        started_ms=original.create_time_since_epoch,
        finished_ms=original.last_update_time_since_epoch,
        properties={k: _value(v) for k, v in original.custom_properties.items()},
    )


def read_run(metadata_path: str, pipeline_name: str, run: str = "latest") -> Run:
    """Open the store and load one run of the pipeline (see `load_run`)."""
    return load_run(open_store(metadata_path), metadata_path, pipeline_name, run)
