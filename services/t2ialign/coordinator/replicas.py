"""`promotion.Replicas` over Ray Serve: DeploymentHandle.broadcast (Ray 2.60) calls every running replica of a
deployment past load balancing, the fan-out a promotion needs. This is the coordinator's one in-cluster call;
everything else it drives over gRPC (docs/ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Any

from ray import serve


def _error(e: BaseException) -> str:
    cause = getattr(e, "cause", None) or e
    return f"{type(cause).__name__}: {cause}"[:4096]


class ServeReplicas:
    """Every replica of `deployment` in Serve app `app`; `load_method` swaps, `info_method` reports."""

    def __init__(self, app: str, deployment: str, load_method: str, info_method: str, timeout_s: float):
        self.app, self.deployment, self.timeout_s = app, deployment, timeout_s
        self.load_method, self.info_method = load_method, info_method
        self._handle: Any = None

    def _broadcast(self, method: str, *args: Any) -> list[Any]:
        if self._handle is None:  # looked up lazily: the app may deploy after the coordinator
            self._handle = serve.get_deployment_handle(self.deployment, app_name=self.app)
        response = self._handle.broadcast(method, *args)
        return response.results(timeout_s=self.timeout_s, return_exceptions=True)

    def load(self, version: str, prefix: str) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(self._broadcast(self.load_method, version, prefix)):
            if isinstance(r, BaseException):  # the replica raised or died: it did not swap
                out.append({"replica_id": f"replica-{i}", "swapped": False, "version": "", "error": _error(r)})
            else:
                out.append(
                    {
                        "replica_id": r["replica_id"],
                        "swapped": bool(r["swapped"]),
                        "version": r["serving"]["version"],
                        "error": r.get("error", ""),
                    }
                )
        return out

    def serving(self) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(self._broadcast(self.info_method)):
            if isinstance(r, BaseException):
                out.append({"replica_id": f"replica-{i}", "version": f"unknown ({_error(r)})"})
            else:
                out.append({"replica_id": r["replica_id"], "version": r["version"]})
        return out
