"""An image build's recipe: the components of an image config as the runner's plan, in the order they run.

As ParallelCluster's image recipe: UpdateAndReboot first when Build/UpdateOsPackages is enabled, then each entry of
Build/Components: a `script` (s3:// or https://) wrapped as ParallelCluster wraps one, or an Image Builder component
by ARN from the local component store. Build nodes have no route out, so the host fetches what they will download
from the web (script components, WebDownload steps whose source is a literal URL) into the build's web directory,
which the runner serves them from; s3:// objects come from the local buckets, which the nodes mount.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

from paracluster.errors import ClusterError


def components(config, state_dir: Path, account_id: str, image_dir: Path, log) -> list[dict]:
    """The plan's components: {"name", "arn", "document"} each; ClusterError naming the component that cannot be
    had."""
    from paracluster.images.components import ComponentStore, script_document, update_os_document
    from paracluster.images.document import load_document_text
    from paracluster.providers.local.standins import buckets

    planned = []
    if config.build.update_os_packages.enabled:
        planned.append({"name": "UpdateAndReboot", "arn": None, "document": update_os_document()})
    store = ComponentStore(state_dir, account_id)
    for index, item in enumerate(config.build.components):
        where = f"Build/Components[{index}]"
        if item.type == "script":
            if item.value.startswith("s3://"):
                try:
                    buckets.object_path(state_dir, item.value)
                except ClusterError as err:
                    raise ClusterError(f"{where}: {err}") from None
            else:
                _fetch(item.value, image_dir, where)
            planned.append({"name": item.value, "arn": None, "document": script_document(item.value)})
            continue
        try:
            record = store.resolve(item.value)
            document = load_document_text(record["data"], record["arn"]).require()
        except ClusterError as err:
            raise ClusterError(f"{where}: {err}") from None
        for url in web_sources(document):
            _fetch(url, image_dir, f"{where} ({record['name']})")
        planned.append({"name": record["name"], "arn": record["arn"], "document": document})
    return planned


def web_sources(document: dict) -> list[str]:
    """The literal http(s) URLs a document's WebDownload steps download (a templated one cannot be known ahead)."""
    found = []
    for phase in document["phases"]:
        for step in phase["steps"]:
            if step["action"] != "WebDownload":
                continue
            inputs = step["inputs"] if isinstance(step["inputs"], list) else [step["inputs"]]
            found += [item["source"] for item in inputs if isinstance(item, dict)
                      and str(item.get("source", "")).startswith(("https://", "http://"))
                      and "{{" not in item["source"]]
    return found


def _fetch(url: str, image_dir: Path, where: str) -> None:
    """Download `url` on the host into the build's web directory, where the runner finds it (<host>/<path>)."""
    from paracluster.providers.local.standins.actions import download

    parts = urlsplit(url)
    target = image_dir / "web" / parts.netloc / parts.path.lstrip("/")
    if target.is_file():
        return
    try:
        source = download(url, image_dir / "downloads")
    except ClusterError as err:
        raise ClusterError(f"{where}: failed to download {url}: {err}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
