"""The local image store: one record per image, and the images' read-only layers on a file system of their own.

Layout under the state directory:
  images/<image id>/image.json          the record (ImageState)
  images/<image id>/image-config.yaml   the image configuration as submitted
  images/<image id>/stack-events.jsonl  the build's steps as stack events (host/events.py)
  images/<image id>/nodes/<build|test>/ the build and test nodes' spec, status, logs and AWSTOE work directories
  images/store.img -> images/store/     a sparse ext4 file, loop-mounted, holding
      layers/<ami id>/                  an image's layer: what its build node changed (the overlay's upper directory)
      builds/<image id>/<node>/         the overlay upper, work and root directories of build and test nodes

Layers live on their own file system because overlayfs refuses a lower layer inside another lower layer, and the
bottom layer of every node is the host's root. A node booted from an image gets the image's layer and its ancestors'
over the host's root (`lower_dirs`); an official image is the host's root alone. A layer stays while an image
record lists it (its own or a parent's: a parent deleted before its children keeps its layer for them) or a running
node has it under its root; then `collect_garbage` removes it, and the store is unmounted once it is empty.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Callable

from paracluster.errors import ClusterError, ConflictError, NotFoundError
from paracluster.records import from_data, now, to_data

STORE_BYTES = 64 * 2**30  # sparse: only what layers hold takes disk space
MAX_LAYERS = 40  # a node's overlay options must fit one page (4 KiB) of mount data
_STORE_LOCK = threading.Lock()  # mount, unmount and garbage collection of the layer store
_RECORD_LOCK = threading.Lock()


@dataclasses.dataclass
class ImageState:
    """One local image: what it is (AMI id, name, OS, layers) and where its build got to."""

    image_id: str
    ami_id: str
    region: str
    version: str
    name: str
    parent: str  # the parent image's AMI id (official or local)
    os: str
    architecture: str
    creation_time: str  # when the build started (the build stack's creation)
    layers: list[str] = dataclasses.field(default_factory=list)  # AMI ids of its layer and its ancestors', top first
    image_tags: dict[str, str] = dataclasses.field(default_factory=dict)  # the AMI's tags
    stack_tags: dict[str, str] = dataclasses.field(default_factory=dict)  # the build stack's tags
    build_status: str = "BUILD_IN_PROGRESS"
    stack_status: str = "CREATE_IN_PROGRESS"
    builder_status: str = "PENDING"  # EC2 Image Builder's image status: PENDING, BUILDING, TESTING, AVAILABLE, FAILED
    builder_reason: str | None = None
    stack_reason: str | None = None
    progress: str | None = None
    image_time: str | None = None  # when the layer was captured (the AMI's creation)
    last_updated_time: str | None = None
    rollback_on_failure: bool = False
    terminate_on_failure: bool = True
    kept_node: dict | None = None  # a failed build's node kept for debugging: its name, PID 1 and namespace

    @property
    def available(self) -> bool:
        return self.build_status == "BUILD_COMPLETE"


@dataclasses.dataclass(frozen=True)
class Resolved:
    """An AMI id as nodes boot it: its OS and architecture, and its layers over the host's root (top first)."""

    ami_id: str
    os: str
    architecture: str
    layers: list[str]
    image_id: str | None = None  # the local image's id; None for an official image


class ImageStore:
    """Image records and layers of one state directory."""

    def __init__(self, state_dir: Path):
        self.state = Path(state_dir)
        self.root = self.state / "images"

    # --- records ----------------------------------------------------------------------------------------------

    def image_dir(self, image_id: str) -> Path:
        return self.root / image_id

    def node_dir(self, image_id: str, node: str) -> Path:
        return self.image_dir(image_id) / "nodes" / node

    def load(self, image_id: str) -> ImageState | None:
        try:
            return from_data(ImageState, json.loads((self.image_dir(image_id) / "image.json").read_text()))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def records(self) -> list[ImageState]:
        if not self.root.is_dir():
            return []
        found = (self.load(path.parent.name) for path in sorted(self.root.glob("*/image.json")))
        return [record for record in found if record is not None]

    def create(self, record: ImageState, config_text: str) -> bool:
        """Save a new image's record and configuration; False when an image of that id exists."""
        with _RECORD_LOCK:
            directory = self.image_dir(record.image_id)
            if (directory / "image.json").exists():
                return False
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "image-config.yaml").write_text(config_text)
            self._save(record)
            return True

    def update(self, image_id: str, change: Callable[[ImageState], None]) -> ImageState:
        with _RECORD_LOCK:
            record = self.load(image_id)
            if record is None:
                raise NotFoundError(f"image '{image_id}' does not exist; see `paracluster list-images`")
            change(record)
            self._save(record)
            return record

    def _save(self, record: ImageState) -> None:
        record.last_updated_time = now()
        path = self.image_dir(record.image_id) / "image.json"
        temporary = path.with_name(f"image.json.tmp{threading.get_ident()}")
        temporary.write_text(json.dumps(to_data(record), indent=1, sort_keys=True))
        os.replace(temporary, path)

    def remove(self, image_id: str) -> None:
        with _RECORD_LOCK:
            shutil.rmtree(self.image_dir(image_id), ignore_errors=True)

    def by_ami(self, ami_id: str) -> ImageState | None:
        """The local image with this AMI id (whatever its status)."""
        return next((record for record in self.records() if record.ami_id == ami_id), None)

    def resolve(self, ami_id: str) -> Resolved:
        """What a node booted from this AMI id gets (an official image or a built local one); NotFoundError or
        ConflictError with one sentence otherwise."""
        from paracluster import __version__
        from paracluster.providers.local.images.official import find_official

        official = find_official(ami_id, __version__)
        if official is not None:
            return Resolved(ami_id, official.os, official.architecture, [])
        record = self.by_ami(ami_id)
        if record is None:
            raise NotFoundError(f"image {ami_id} does not exist on the local provider; build one with "
                                "`paracluster build-image` or use an official image (`paracluster "
                                "list-official-images`)")
        if not record.available:
            raise ConflictError(f"image {ami_id} ({record.image_id}) is {record.build_status}; only a built image "
                                "(BUILD_COMPLETE) can be used")
        return Resolved(ami_id, record.os, record.architecture, list(record.layers), record.image_id)

    # --- layers -----------------------------------------------------------------------------------------------

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    def layer_dir(self, ami_id: str) -> Path:
        return self.store_dir / "layers" / ami_id

    def build_dir(self, image_id: str, node: str) -> Path:
        return self.store_dir / "builds" / image_id / node

    def lower_dirs(self, layers: list[str]) -> str:
        """The overlay lowerdir option of a node booted from an image with these layers: theirs, then the host's root."""
        if len(layers) > MAX_LAYERS:
            raise ClusterError(f"failed to stack {len(layers)} image layers: a node takes at most {MAX_LAYERS}; "
                               "build the image from an official image or a shallower parent")
        self.mount()
        paths = [self.layer_dir(ami) for ami in layers]
        missing = [path.name for path in paths if not path.is_dir()]
        if missing:
            raise NotFoundError(f"the layer of image {missing[0]} is missing from {self.store_dir / 'layers'}; "
                                "build the image again")
        return ":".join([*map(str, paths), "/"])

    def mount(self) -> Path:
        """Mount the layer store (creating and formatting it the first time); idempotent."""
        from paracluster.providers.local.host import commands as hostcmd
        from paracluster.providers.local.standins.storage import attach_loops

        with _STORE_LOCK:
            if os.path.ismount(self.store_dir):
                return self.store_dir
            image = self.root / "store.img"
            self.store_dir.mkdir(parents=True, exist_ok=True)
            if not image.exists():
                # Formatted as a file, then renamed: a store.img always holds a file system.
                partial = image.with_suffix(".img.new")
                with open(partial, "wb") as out:
                    out.truncate(STORE_BYTES)
                hostcmd.run(["mkfs.ext4", "-q", "-F", "-L", "pcl-images", "-E",
                             "lazy_itable_init=1,lazy_journal_init=1", str(partial)], check=True,
                            what="format the image store", timeout=300)
                partial.rename(image)
            (device,) = attach_loops([image])
            hostcmd.run(["mount", device, str(self.store_dir)], check=True, what="mount the image store")
            self.store_dir.chmod(0o700)
            for folder in ("layers", "builds"):
                (self.store_dir / folder).mkdir(exist_ok=True)
            return self.store_dir

    def collect_garbage(self) -> list[str]:
        """Remove layers no image lists and no running node uses; unmount the store once it holds nothing."""
        with _STORE_LOCK:
            if not os.path.ismount(self.store_dir):
                return []
            records = self.records()
            wanted = {ami for record in records for ami in record.layers}
            used = lower_dirs_in_use(self.state)
            removed = []
            for layer in sorted((self.store_dir / "layers").iterdir()):
                if layer.name not in wanted and not any(str(layer) in lower for lower in used):
                    shutil.rmtree(layer)
                    removed.append(layer.name)
            builds = self.store_dir / "builds"
            for build in sorted(builds.iterdir()):
                if build.name not in {record.image_id for record in records}:
                    shutil.rmtree(build, ignore_errors=True)
            building = any(record.build_status == "BUILD_IN_PROGRESS" for record in records)
            if not any((self.store_dir / "layers").iterdir()) and not any(builds.iterdir()) and not used \
                    and not building:
                self._unmount()
            return removed

    def _unmount(self) -> None:
        from paracluster.providers.local.host import commands as hostcmd
        from paracluster.providers.local.standins.storage import detach_loops

        image = self.root / "store.img"
        hostcmd.run(["umount", str(self.store_dir)], check=True, what="unmount the image store")
        detach_loops([image])
        image.unlink(missing_ok=True)
        self.store_dir.rmdir()


def lower_dirs_in_use(state_dir: Path) -> list[str]:
    """The overlay lowerdir options of the running nodes of this state directory (cluster, build and test nodes)
    that boot from a local image."""
    from paracluster.providers.local.nodes.instances import find_pid

    found = []
    for spec_path in [*Path(state_dir).glob("clusters/*/nodes/*/spec.json"),
                      *Path(state_dir).glob("images/*/nodes/*/spec.json")]:
        try:
            lower = json.loads(spec_path.read_text())["overlay"]["lower"]
        except (OSError, ValueError, KeyError):
            continue
        if lower != "/" and find_pid(None, spec_path.parent) is not None:
            found.append(lower)
    return found


def node_lower_dirs(state_dir: Path, config, node) -> str:
    """The overlay lowerdir of a cluster node: its CustomAmi's layers over the host's root, or the host's root alone
    (no CustomAmi, or an official image)."""
    from paracluster.plan.images import node_custom_ami

    ami_id = node_custom_ami(config, node)
    if not ami_id:
        return "/"
    store = ImageStore(state_dir)
    layers = store.resolve(ami_id).layers
    return store.lower_dirs(layers) if layers else "/"
