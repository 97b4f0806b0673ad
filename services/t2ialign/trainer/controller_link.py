"""A Ray Train callback that tells a job's runner about its Train controller and the workers' placement groups.

It runs inside Train's controller (RunConfig.callbacks passes non-user callbacks through to it). The runner
needs both for a hard stop: it aborts the controller first, so that nothing restarts the worker group, and
only then removes the groups (removing a group under a live controller kills its workers, which the
controller treats as a worker failure and answers with a new group that nobody would remove).
"""

from __future__ import annotations

from typing import Any

import ray
from ray.train.v2._internal.execution.callback import ControllerCallback, WorkerGroupCallback


class RunnerLink(ControllerCallback, WorkerGroupCallback):
    def __init__(self, runner_name: str, namespace: str):
        self.runner_name, self.namespace = runner_name, namespace

    def _runner(self) -> Any:
        return ray.get_actor(self.runner_name, namespace=self.namespace)

    def after_controller_start(self, train_run_context: Any) -> None:
        ray.get(self._runner().holds_controller.remote(ray.get_runtime_context().current_actor))

    def after_worker_group_start(self, worker_group: Any) -> None:
        group = worker_group.get_worker_group_state().placement_group_handle.placement_group
        ray.get(self._runner().holds_placement_group.remote(group.id.hex()))
