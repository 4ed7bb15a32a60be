"""The Docker runtime on a node of a cluster, which has no project folder: the driver sends
each image's recipe (Dockerfile, harness, build args pinned by the lock file), and the node
builds that image, under the tag its content gives, or finds it already built."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
from pathlib import Path

from kit.runtime.docker import DockerRuntime
from kit.sources import images
from kit.spec.model import CutlassSource, Toolchain
from kit.util.errors import EngineError

log = logging.getLogger("kit.sources.images")


class NodeDockerRuntime(DockerRuntime):
    def __init__(self) -> None:
        super().__init__(Path(tempfile.gettempdir()), log=log.info)
        self.recipes: dict[tuple[str, str], images.ImageSpec] = {}

    def spec(self, tc: Toolchain, cutlass: CutlassSource) -> images.ImageSpec:
        try:
            return self.recipes[(tc.name, cutlass.name)]
        except KeyError:
            raise EngineError(f"no image recipe for {tc.name} x CUTLASS {cutlass.name} was "
                              "sent to this node") from None

    def toolchain_identity(self, tc: Toolchain) -> str:
        """As images.toolchain_identity on the driver, from the recipe instead of a folder."""
        spec = next((s for (name, _), s in self.recipes.items() if name == tc.name), None)
        if spec is None:
            raise EngineError(f"no image recipe for toolchain {tc.name} was sent to this node")
        h = hashlib.sha256(json.dumps(images.toolchain_args(tc, spec.base),
                                      sort_keys=True).encode())
        h.update(spec.context_files["Dockerfile"])
        return f"docker:{h.hexdigest()[:16]}"

    def ensure(self, spec: images.ImageSpec) -> dict[str, str]:
        """Build the recipe's image unless its tag is here; say what it is made from."""
        self.recipes[(spec.toolchain.name, spec.cutlass.name)] = spec
        built = images.ensure(self.client, spec, log.info)
        base_id = image_id = ""
        with contextlib.suppress(Exception):  # a base given as an image: toolchain's digest
            base_id = str(self.client.images.get(spec.base).id)
        with contextlib.suppress(Exception):
            image_id = str(self.client.images.get(spec.tag).id)
        return {"tag": spec.tag, "base_id": base_id, "image_id": image_id,
                "built": "yes" if built else "no"}
