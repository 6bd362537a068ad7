"""Pusher that publishes a blessed model version atomically.

TFX's Pusher copies files straight into `<base>/<version>`, so a reader can see a half-
copied version. This one copies into a hidden `<base>/.incoming-<version>-<id>` folder
first and renames it to `<base>/<version>` at the end (a rename is atomic on local and
POSIX file systems; model servers skip names that are not version numbers).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils


class AtomicPusherExecutor(pusher_executor.Executor):
    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("AtomicPusher pushes to a file system destination only")
        base = destination.filesystem.base_directory
        version = str(int(time.time()))
        serving_path = os.path.join(base, version)
        while fileio.exists(serving_path):  # two pushes within a second
            version = str(int(version) + 1)
            serving_path = os.path.join(base, version)
        incoming = os.path.join(base, f".incoming-{version}-{uuid.uuid4().hex[:8]}")
        io_utils.copy_dir(model_path, incoming)
        fileio.rename(incoming, serving_path)
        logging.info("Model pushed to %s", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)


class AtomicPusher(pusher_component.Pusher):
    """`tfx.components.Pusher` with an atomic file-system push."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPusherExecutor)
