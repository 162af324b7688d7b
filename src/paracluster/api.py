"""The operations ParaCluster offers (the CLI's and the REST API's), in ParallelCluster's terms and JSON shapes.

Configurations arrive as text (a REST request has no file path; `source` names where the text came from in
messages). Every operation returns promptly: long ones (create, delete) are started and then observed with
describe; polling and progress belong to the caller. Answers are rendered from the provider's typed records by
`paracluster.views`.
"""

from __future__ import annotations

import os
import re

from paracluster import views
from paracluster.errors import (
    BadRequestError,
    ConfigValidationError,
    DryRunSucceeded,
    NotAvailableError,
    NotFoundError,
    UpdateRefused,
)

# The request-level pattern of a cluster name (at least two characters); ClusterNameValidator then checks length.
_CLUSTER_NAME_PARAMETER = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]+$")


def provider(name: str | None = None):
    """The provider named `name`, else the settings' (`provider`, default local)."""
    from paracluster.providers import get_provider
    from paracluster.settings import load_settings

    settings = load_settings({"provider": name})
    return get_provider(settings.provider, settings)


def default_region(region: str | None) -> str | None:
    """The region a request is for: the one given, else AWS's environment variables, else None (every region)."""
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def validate(kind: str, config_text: str, name: str, region: str | None, suppress, failure_level: str,
             source: str):
    """Validate a config; raise ConfigValidationError when findings block, else return (outcome, messages)."""
    from paracluster.config.validate import validate_config

    outcome = validate_config(
        None, text=config_text, kind=kind, cluster_name=name if kind == "cluster" else None, suppress=suppress,
        failure_level=failure_level, region=region, source=source,
    )
    messages = [finding.to_json() for finding in outcome.findings]
    if outcome.blocking:
        raise ConfigValidationError(f"Invalid {kind} configuration.", messages)
    config_region = outcome.config.region if outcome.config is not None else None
    if region and config_region and region != config_region:
        raise BadRequestError(
            f"--region {region} conflicts with Region: {config_region} in {source}; "
            "drop one of them or make them equal"
        )
    return outcome, messages


def check_cluster_name(name: str) -> None:
    if not _CLUSTER_NAME_PARAMETER.match(name):
        raise BadRequestError(
            f"--cluster-name '{name}' is invalid; use at least two letters, digits or hyphens, starting with a letter"
        )


def _validated(cluster_name: str, config_text: str, region, suppress, failure_level: str, source: str):
    """A cluster request's name and configuration checked: (validation outcome, its messages)."""
    check_cluster_name(cluster_name)
    return validate("cluster", config_text, cluster_name, region, suppress, failure_level, source)


def provider_findings(checks, kind: str, name: str, config, region, suppress, failure_level: str,
                      messages: list) -> list:
    """Run a provider's own validators (`checks`: validate_cluster or validate_image; on aws, those that ask AWS)
    before anything is made, dry run or not, with the same suppression and failure level as the others: the
    messages with theirs added."""
    if checks is None:
        return messages
    from paracluster.config.validate.core import Level

    found = checks(name, config, region or config.region, tuple(suppress))
    messages = messages + [finding.to_json() for finding in found]
    if any(finding.level >= Level[failure_level] for finding in found):
        raise ConfigValidationError(f"Invalid {kind} configuration.", messages)
    return messages


def create_cluster(
    *,
    cluster_name: str,
    config_text: str,
    source: str = "the cluster configuration",
    region: str | None = None,
    suppress_validators: tuple[str, ...] = (),
    validation_failure_level: str = "ERROR",
    dryrun: bool = False,
    rollback_on_failure: bool = True,
    provider_name: str | None = None,
) -> dict:
    """Validate the configuration and start creating the cluster; with `dryrun`, stop after validation."""
    outcome, messages = _validated(cluster_name, config_text, region, suppress_validators, validation_failure_level,
                                   source)
    chosen = provider(provider_name)
    messages = provider_findings(getattr(chosen, "validate_cluster", None), "cluster", cluster_name, outcome.config,
                                 region, suppress_validators, validation_failure_level, messages)
    if dryrun:
        raise DryRunSucceeded(messages)
    chosen.check_config(outcome.config)
    record = chosen.create_cluster(cluster_name, config_text, region or outcome.config.region, rollback_on_failure)
    body = {"cluster": views.cluster_summary(record)}
    if messages:
        body["validationMessages"] = messages
    return body


def delete_cluster(*, cluster_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    """Start deleting a cluster and everything it has."""
    record = provider(provider_name).delete_cluster(cluster_name, default_region(region))
    return {"cluster": views.cluster_summary(record)}


def describe_cluster(*, cluster_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    record = provider(provider_name).describe_cluster(cluster_name, default_region(region))
    return views.cluster_description(record)


def list_clusters(*, statuses: list[str] | None = None, region: str | None = None,
                  provider_name: str | None = None) -> dict:
    records = provider(provider_name).list_clusters(default_region(region))
    return {"clusters": [views.cluster_summary(r) for r in records if not statuses or r.status in statuses]}


def describe_cluster_instances(*, cluster_name: str, node_type: str | None = None, queue_name: str | None = None,
                               region: str | None = None, provider_name: str | None = None) -> dict:
    listing = provider(provider_name).cluster_instances(cluster_name, default_region(region))
    chosen = [i for i in listing.instances
              if (not node_type or i.node_type == node_type) and (not queue_name or i.queue == queue_name)]
    body = {"instances": [views.instance(i) for i in chosen]}
    failures = [f for f in listing.node_failures if not queue_name or f.node_name.startswith(f"{queue_name}-")]
    if failures and node_type in (None, "ComputeNode"):
        body["nodeFailures"] = [views.node_failure(f) for f in failures]
    return body


def describe_compute_fleet(*, cluster_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    return views.compute_fleet(provider(provider_name).compute_fleet(cluster_name, default_region(region)))


def update_compute_fleet(*, cluster_name: str, status: str, region: str | None = None,
                         provider_name: str | None = None) -> dict:
    """Request the compute fleet to stop or start; the cluster manager carries it out."""
    chosen = provider(provider_name)
    return views.compute_fleet(chosen.update_compute_fleet(cluster_name, default_region(region), status))


def ssh_target(*, cluster_name: str, login_pool: str | None = None, region: str | None = None,
               provider_name: str | None = None):
    """Where `ssh` reaches the head node (or a login pool's load balancer) as the cluster's default user."""
    return provider(provider_name).ssh_target(cluster_name, default_region(region), login_pool)


def slurm_token(*, cluster_name: str, user: str | None = None, lifespan: int | None = None,
                region: str | None = None, provider_name: str | None = None) -> dict:
    return provider(provider_name).slurm_token(cluster_name, default_region(region), user, lifespan)


def update_cluster(
    *,
    cluster_name: str,
    config_text: str,
    source: str = "the cluster configuration",
    region: str | None = None,
    suppress_validators: tuple[str, ...] = (),
    validation_failure_level: str = "ERROR",
    dryrun: bool = False,
    force_update: bool = False,
    provider_name: str | None = None,
) -> dict:
    """Validate the new configuration, plan the update against the cluster's state and start it (unless refused).

    As in ParallelCluster: changes a policy does not allow now are refused with the change set and the reasons
    (unless `force_update`); no change at all is refused; `dryrun` stops after the plan.
    """
    outcome, messages = _validated(cluster_name, config_text, region, suppress_validators, validation_failure_level,
                                   source)
    chosen = provider(provider_name)
    chosen.check_config(outcome.config, updating=cluster_name)
    where = region or outcome.config.region or default_region(None)
    result = chosen.update_cluster(cluster_name, where, config_text, force_update, dryrun)
    changes = views.change_set(result.changes)
    if result.result == "REFUSED":
        raise UpdateRefused(changes, views.update_validation_errors(result.changes))
    if result.result == "NO_CHANGES":
        raise BadRequestError("No changes found in your cluster configuration.")
    if dryrun:
        raise DryRunSucceeded(messages, changes)
    body = {"cluster": views.cluster_summary(result.cluster)}
    if messages:
        body["validationMessages"] = messages
    body["changeSet"] = changes
    return body


def delete_cluster_instances(*, cluster_name: str, force: bool = False, region: str | None = None,
                             provider_name: str | None = None) -> None:
    """Terminate the cluster's compute instances; with `force`, a cluster that does not exist is no error."""
    try:
        provider(provider_name).delete_cluster_instances(cluster_name, default_region(region))
    except NotFoundError:
        if not force:
            raise NotFoundError(
                f"Cluster '{cluster_name}' does not exist or belongs to an incompatible ParallelCluster major "
                "version. To force the deletion of all compute nodes, please use the `force` param."
            ) from None


def get_cluster_stack_events(*, cluster_name: str, next_token: str | None = None, region: str | None = None,
                             provider_name: str | None = None) -> dict:
    events, token = provider(provider_name).stack_events(cluster_name, default_region(region), next_token)
    return views.stack_events(events, token)


def services(provider_name: str | None = None):
    """The provider's AWS services: key pairs, buckets, secrets, storage, accounting databases."""
    return provider(provider_name).services


# --- ParaCluster's own operations (the dashboard's; ParallelCluster's API has none for them) -------------------------


def slurm_status(*, cluster_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    """Slurm's nodes (by partition and state, with reasons) and jobs (squeue, and sacct with accounting)."""
    return views.slurm_status(provider(provider_name).slurm_status(cluster_name, default_region(region)))


def node_count_history(*, cluster_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    """The cluster's compute instance counts over time, per queue, as the provider sampled them."""
    samples = provider(provider_name).node_count_history(cluster_name, default_region(region))
    return {"samples": [views.node_count_sample(sample) for sample in samples]}


# --- cluster logs: list-cluster-log-streams, get-cluster-log-events, export-cluster-logs, log groups ---------------


def list_cluster_log_streams(*, cluster_name: str, filters: list[str] | None = None, next_token: str | None = None,
                             region: str | None = None, provider_name: str | None = None) -> dict:
    from paracluster.cwlogs.query import parse_filters

    wanted = parse_filters(filters)
    chosen = provider(provider_name)
    group = chosen.cluster_log_group(cluster_name, default_region(region))
    streams, token = chosen.log_streams(group, wanted.prefix(group.head_node_hostname), next_token)
    body = {"logStreams": [views.log_stream(stream) for stream in streams]}
    if token:
        body["nextToken"] = token
    return body


def get_cluster_log_events(*, cluster_name: str, log_stream_name: str, next_token: str | None = None,
                           start_from_head: bool | None = None, limit: int | None = None,
                           start_time: str | None = None, end_time: str | None = None, region: str | None = None,
                           provider_name: str | None = None) -> dict:
    from paracluster.cwlogs.query import check_range, parse_time

    start, end = parse_time(start_time, "start_time"), parse_time(end_time, "end_time")
    check_range(start, end, limit)
    chosen = provider(provider_name)
    group = chosen.cluster_log_group(cluster_name, default_region(region))
    page = chosen.log_events(group, log_stream_name, start, end, bool(start_from_head), limit, next_token)
    return views.log_events(page)


def _group_for_export(chosen, cluster_name: str, region: str | None):
    """The cluster's log group, or (the cluster being gone) the newest group it left (DeletionPolicy Retain)."""
    try:
        return chosen.cluster_log_group(cluster_name, region), True
    except NotFoundError:
        kept = [group for group in chosen.log_groups(region) if group.cluster == cluster_name]
        if not kept:
            raise NotFoundError(f"Cluster {cluster_name} does not exist and left no log group; see "
                                "`paracluster log-groups list`") from None
        return max(kept, key=lambda group: group.creation_time), False


def export_cluster_logs(*, cluster_name: str, output_file: str | None = None, bucket: str | None = None,
                        bucket_prefix: str | None = None, start_time: str | None = None,
                        end_time: str | None = None, filters: list[str] | None = None, region: str | None = None,
                        provider_name: str | None = None) -> dict:
    """The cluster's logs (also a deleted cluster's retained ones) in a tar.gz: at `output_file`, else in `bucket`."""
    import tempfile
    from pathlib import Path

    from paracluster.cwlogs import export
    from paracluster.cwlogs.query import parse_filters, parse_time

    if not output_file and not bucket:
        raise BadRequestError("export-cluster-logs needs --output-file (a local tar.gz) or --bucket (a bucket to "
                              "put the archive in)")
    wanted = parse_filters(filters)
    chosen = provider(provider_name)
    group, alive = _group_for_export(chosen, cluster_name, default_region(region))
    start, end = export.default_range(group, parse_time(start_time, "start_time"), parse_time(end_time, "end_time"))
    if start >= end:
        raise BadRequestError("Unable to export cluster's logs. Start time must be earlier than end time.")
    prefix = wanted.prefix(group.head_node_hostname if alive else None)
    streams = export.collect(chosen, group, prefix, start, end)
    if not streams:
        raise BadRequestError(
            f"Unable to export cluster's logs. No log events in the log group {group.name} in interval starting at "
            f"{_iso(start)} and ending at {_iso(end)}" + (f", with log stream name prefix '{prefix}'" if prefix else ""))
    extra = {}
    if alive:
        extra[f"{cluster_name}-cfn-events"] = export.stack_events_file(_all_stack_events(chosen, cluster_name, region))
    root = export.archive_name(cluster_name)
    if output_file:
        target = Path(output_file).expanduser().resolve()
        export.write_archive(target, root, streams, extra)
        return {"path": str(target)}
    with tempfile.TemporaryDirectory(prefix="paracluster-export-") as scratch:
        archive = Path(scratch) / f"{root}.tar.gz"
        export.write_archive(archive, root, streams, extra)
        url = f"s3://{bucket}/{bucket_prefix.strip('/') + '/' if bucket_prefix else ''}{archive.name}"
        chosen.services.buckets.put(archive, url)
    return {"url": url}


def _iso(millis: int) -> str:
    from paracluster.records import format_time

    return format_time(millis / 1000)


def _all_stack_events(chosen, cluster_name: str, region: str | None) -> list[dict]:
    found, token = [], None
    while True:
        events, token = chosen.stack_events(cluster_name, default_region(region), token)
        found += [views.stack_event(event) for event in events]
        if not token:
            return found


def log_groups(*, region: str | None = None, provider_name: str | None = None) -> dict:
    """Every cluster log group, also those retained after their cluster."""
    return {"logGroups": [views.log_group(group) for group in provider(provider_name).log_groups(region)]}


def delete_log_group(*, log_group_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    provider(provider_name).delete_log_group(log_group_name, default_region(region))
    return {"message": f"Deleted log group {log_group_name}."}


def cluster_configuration(*, cluster_name: str, region: str | None = None, provider_name: str | None = None) -> dict:
    """The cluster's configuration as text (ParaCluster's own operation: the dashboard's update editor starts from
    it), read from describe-cluster's clusterConfiguration URL."""
    import urllib.request

    record = provider(provider_name).describe_cluster(cluster_name, default_region(region))
    url = record.config_url
    if not url or not url.startswith(("file:", "https:")):
        raise NotAvailableError(f"the configuration of cluster '{cluster_name}' cannot be read from '{url}'")
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - file: or https: only, checked above
            return {"clusterConfiguration": answer.read().decode()}
    except OSError as err:
        raise NotAvailableError(f"failed to read the configuration of cluster '{cluster_name}': {err}") from None


# --- diagnose -------------------------------------------------------------------------------------------------------


def diagnose(*, cluster_name: str, output_file: str | None = None, region: str | None = None,
             provider_name: str | None = None) -> dict:
    """Run every check on the cluster's nodes; bundle the report, the nodes' answers and the cluster's logs into a
    tar.gz (`output_file`, else <cluster>-diagnosis-<time>.tar.gz here). The report says whether all passed."""
    from pathlib import Path

    from paracluster.cwlogs import export
    from paracluster.diagnose import checks, report

    chosen = provider(provider_name)
    where = default_region(region)
    facts = chosen.diagnostics(cluster_name, where)
    body = report.report(cluster_name, facts.time, checks.run_checks(facts))
    streams = {}
    try:
        group = chosen.cluster_log_group(cluster_name, where)
        streams = export.collect(chosen, group, None, *export.default_range(group, None, None))
    except BadRequestError:
        pass  # CloudWatch logging is disabled: the bundle has no logs
    target = Path(output_file).expanduser().resolve() if output_file else report.default_bundle(cluster_name)
    body["bundle"] = str(target)
    events = export.stack_events_file(_all_stack_events(chosen, cluster_name, region))
    report.write_bundle(target, body, facts, streams, events)
    return body
