"""Kubernetes API test peer: kmock's KubernetesEmulator serving `v1/secrets` on 127.0.0.1.

kmock (PyPI) stores objects and serves create (409 AlreadyExists on a live name), get, list, JSON
merge-patch (`null` removes a key) and delete. Its error reasons are reworded to the API server's (`NotFound`, `AlreadyExists`), and it
has no notion of `metadata.resourceVersion`, which
is what makes a concurrent change a conflict on a real API server. This subclass adds only that, as
the Kubernetes API conventions describe it (api-conventions.md, "Concurrency Control and
Consistency"): every write stamps a new opaque resourceVersion; a PATCH or PUT whose body carries a
resourceVersion other than the stored one fails with 409 `Conflict` and changes nothing.

Usage: python3 k8s_secrets.py  -> prints the port on stdout, serves until killed.
"""

import asyncio
import itertools
import sys
import uuid

import attrs
import kmock
from kmock import action


@attrs.frozen
class Conflict(kmock.KubernetesError):
    status: int = 409
    reason: str = "Conflict"
    message: str = (
        "Operation cannot be fulfilled: the object has been modified; "
        "please apply your changes to the latest version and try again"
    )
    details: dict = attrs.field(factory=dict)


@attrs.frozen
class NotFound(kmock.KubernetesError):
    status: int = 404
    reason: str = "NotFound"
    message: str = "secrets not found"
    details: dict = attrs.field(factory=dict)


@attrs.frozen
class AlreadyExists(kmock.KubernetesError):
    status: int = 409
    reason: str = "AlreadyExists"
    message: str = "secrets already exists"
    details: dict = attrs.field(factory=dict)


class Emulator(kmock.KubernetesEmulator):
    async def _render_error(self, exc):
        # The reasons a real API server gives (kmock words them for humans).
        if isinstance(exc, kmock.KubernetesObjectNotFoundError):
            exc = NotFound()
        elif type(exc).__name__ == "KubernetesObjectConflictError":
            exc = AlreadyExists()
        return await super()._render_error(exc)

    versions = itertools.count(1000)
    write_lock = None

    async def _handle(self, request):
        if self.write_lock is None:
            self.write_lock = asyncio.Lock()
        if request.resource is None or request.action not in (action.CREATE, action.UPDATE):
            return await super()._handle(request)
        async with self.write_lock:
            meta = request.data.setdefault("metadata", {}) if isinstance(request.data, dict) else None
            if meta is not None:
                if request.action == action.UPDATE:
                    key = (request.resource, request.namespace, request.name)
                    current = self.objects[key] if key in self.objects else None
                    if current is not None and not current.deleted:
                        stored = current.get("metadata", {}).get("resourceVersion")
                        sent = meta.get("resourceVersion")
                        if sent is not None and sent != stored:
                            raise Conflict()
                else:
                    meta["uid"] = str(uuid.uuid4())
                    meta.setdefault("namespace", request.namespace)
                meta["resourceVersion"] = str(next(self.versions))
            return await super()._handle(request)


async def main():
    async with Emulator() as k8s, kmock.Server(k8s) as server:
        k8s.resources["v1/secrets"] = {}
        print(server.url.port, flush=True)
        sys.stdout.close()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
