"""Validators of script and package locations: custom action scripts and the URLs of DevSettings and Slurm settings.

ParallelCluster accepts only s3://bucket/key and https:// locations. ParaCluster also runs custom action scripts from
the local file system, so a Script may be an absolute path (/opt/site/setup.sh) or a file:///opt/site/setup.sh URL;
everything else (http://, ftp://, relative paths) is an error. Whether a location can be fetched is a provider check.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from paracluster.config.validate.core import Context, Report, validator

_S3_URL = re.compile(r"s3://(.*?)/(.*)")
ACTION_EVENTS = ("on_node_start", "on_node_configured", "on_node_updated")


def url_problem(url: str, *, local: bool = False) -> str | None:
    """Why `url` cannot be used as a script or package location, or None; `local` allows absolute local paths."""
    try:
        parsed = urlparse(url)
    except ValueError as err:
        return f"'{url}' is not a valid URL ({err}); use an s3:// or https:// URL"
    scheme = parsed.scheme  # urlparse lowercases it, so HTTPS:// counts as https, as in ParallelCluster
    if scheme == "https":
        return None
    if scheme == "s3":
        if _S3_URL.match(url):
            return None
        return f"'{url}' names no object; use s3://bucket/key"
    if local and (
        (not scheme and url.startswith("/")) or (scheme == "file" and not parsed.netloc and parsed.path.startswith("/"))
    ):
        return None
    if local:
        return f"'{url}' is neither an s3:// or https:// URL nor an absolute local path; use one of those"
    return f"'{url}' is neither an s3:// nor an https:// URL; use s3://bucket/key or an https:// URL"


def _scripts(actions) -> list:
    """The sections holding a Script in a CustomActions section: each action's own, or its Sequence items."""
    found = []
    for event in ACTION_EVENTS:
        action = getattr(actions, event, None)  # queues have no OnNodeUpdated
        if action is None or not action.present:
            continue
        if action.is_set("Script"):
            found.append(action)
        found.extend(action.sequence)
    return found


def _report_once(report: Report, sites, *, local: bool) -> None:
    # ParallelCluster caches URL checks by URL, so a bad location used in several places is reported once.
    seen = set()
    for node, key in sites:
        url = node.get(key)
        if url in seen:
            continue
        seen.add(url)
        problem = url_problem(url, local=local)
        if problem:
            report.error(f"{node.where(key)}: {problem}")


@validator("AsyncTimedUrlValidator")
def custom_action_scripts(context: Context, report: Report) -> None:
    config = context.config
    owners = [config.head_node, *config.scheduling.slurm_queues, *config.login_nodes.pools]
    sites = [(script, "Script") for owner in owners for script in _scripts(owner.custom_actions)]
    _report_once(report, sites, local=True)


def _dev_settings_sites(dev_settings) -> list[tuple[object, str]]:
    # As in ParallelCluster, an empty ChefCookbook is still checked while NodePackage counts only when non-empty;
    # AwsBatchCliPackage, removed in 3.16, is ignored (the loader warns about it).
    sites = []
    if dev_settings.cookbook.chef_cookbook is not None:
        sites.append((dev_settings.cookbook, "ChefCookbook"))
    if dev_settings.node_package:
        sites.append((dev_settings, "NodePackage"))
    return sites


@validator("UrlValidator")
def cluster_urls(context: Context, report: Report) -> None:
    config = context.config
    slurm_settings, dev_settings = config.scheduling.slurm_settings, config.dev_settings
    sites = []
    if slurm_settings.custom_slurm_settings_include_file:
        sites.append((slurm_settings, "CustomSlurmSettingsIncludeFile"))
    sites += _dev_settings_sites(dev_settings)
    if dev_settings.cluster_template:
        sites.append((dev_settings, "ClusterTemplate"))
    _report_once(report, sites, local=False)


@validator("UrlValidator", kind="image")
def image_urls(context: Context, report: Report) -> None:
    _report_once(report, _dev_settings_sites(context.config.dev_settings), local=False)
