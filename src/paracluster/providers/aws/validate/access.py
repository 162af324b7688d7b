"""AWS validators of what nodes read: secrets exist (and the munge key is one), s3:// scripts and files can be
read, buckets exist, and the IAM roles, instance profiles and policies a config names exist."""

from __future__ import annotations

import base64
import binascii

from paracluster.config.validate.action_rules import _scripts
from paracluster.config.validate.core import Report, validator
from paracluster.errors import ClusterError, NotFoundError
from paracluster.providers.aws.session import is_access_denied
from paracluster.providers.aws.validate import KIND, AwsContext

MUNGE_KEY_BITS = (256, 8192)


def _secret(context: AwsContext, arn: str, what: str) -> dict | None:
    return context.session.call(f"describe {what} {arn}", "secretsmanager", "describe_secret", SecretId=arn)


@validator("PasswordSecretArnValidator", kind=KIND)
def password_secrets(context: AwsContext, report: Report) -> None:
    config = context.config
    sites = []
    database = config.scheduling.slurm_settings.database
    if database.present:
        sites.append((database.password_secret_arn, database.where("PasswordSecretArn")))
    if config.directory_service.present:
        sites.append((config.directory_service.password_secret_arn,
                      config.directory_service.where("PasswordSecretArn")))
    for arn, where in sites:
        if ":secretsmanager:" not in arn:
            continue  # SSM parameters (us-isob) are not checked
        try:
            _secret(context, arn, "secret")
        except NotFoundError:
            report.error(f"{where}: secret {arn} does not exist; create it in AWS Secrets Manager")
        except ClusterError as err:
            if not is_access_denied(err):
                raise
            report.warning(f"{where}: secret {arn} cannot be described with your credentials, so it was not "
                           "checked; the head node still needs secretsmanager:GetSecretValue on it")


@validator("MungeKeySecretSizeAndBase64Validator", kind=KIND)
def munge_key_secret(context: AwsContext, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    arn = settings.munge_key_secret_arn
    if not arn:
        return
    where = settings.where("MungeKeySecretArn")
    try:
        value = context.session.call(f"read secret {arn}", "secretsmanager", "get_secret_value", SecretId=arn)
    except NotFoundError:
        report.error(f"{where}: secret {arn} does not exist; create it with a base64 munge key as its value")
        return
    try:
        key = base64.b64decode(value.get("SecretString") or "", validate=True)
    except (binascii.Error, ValueError):
        report.error(f"{where}: the value of secret {arn} is not base64; store the munge key base64-encoded")
        return
    low, high = MUNGE_KEY_BITS
    if not low <= len(key) * 8 <= high:
        report.error(f"{where}: the munge key in secret {arn} has {len(key) * 8} bits; use {low} to {high} bits")


def _split(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


def _s3_problem(context: AwsContext, what: str, operation: str, missing: str, denied: str, **params) -> str | None:
    """Why an S3 object or bucket cannot be used (`missing` or `denied`), or None when it can."""
    try:
        context.session.call(what, "s3", operation, **params)
    except NotFoundError:
        return missing
    except ClusterError as err:
        if not is_access_denied(err):
            raise
        return denied
    return None


def _object_problem(context: AwsContext, url: str) -> str | None:
    bucket, key = _split(url)
    return _s3_problem(context, f"read {url}", "head_object", f"{url} does not exist; upload it (aws s3 cp FILE {url})",
                       f"{url} cannot be read with your credentials; grant s3:GetObject on it", Bucket=bucket, Key=key)


@validator("AsyncTimedUrlValidator", kind=KIND)
def custom_action_objects(context: AwsContext, report: Report) -> None:
    config = context.config
    owners = [config.head_node, *config.scheduling.slurm_queues, *config.login_nodes.pools]
    seen = set()
    for owner in owners:
        for script in _scripts(owner.custom_actions):
            url = script.script
            if not url.startswith("s3://") or url in seen:
                continue
            seen.add(url)
            problem = _object_problem(context, url)
            if problem:
                report.error(f"{script.where('Script')}: {problem}")


@validator("UrlValidator", kind=KIND)
def settings_objects(context: AwsContext, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    url = settings.custom_slurm_settings_include_file
    if url and url.startswith("s3://"):
        problem = _object_problem(context, url)
        if problem:
            report.error(f"{settings.where('CustomSlurmSettingsIncludeFile')}: {problem}")


def _bucket_problem(context: AwsContext, bucket: str) -> str | None:
    return _s3_problem(context, f"reach bucket {bucket}", "head_bucket",
                       f"bucket {bucket} does not exist; create it or use another bucket",
                       f"bucket {bucket} cannot be reached with your credentials", Bucket=bucket)


@validator("S3BucketUriValidator", kind=KIND)
def storage_buckets(context: AwsContext, report: Report) -> None:
    for item in context.config.shared_storage:
        if item.storage_type != "FsxLustre":
            continue
        settings = item.fsx_lustre_settings
        sites = [(dra, "DataRepositoryPath") for dra in settings.data_repository_associations]
        sites += [(settings, key) for key in ("ImportPath", "ExportPath") if settings.get(key)]
        for node, key in sites:
            url = node.get(key)
            if url.startswith("s3://"):
                problem = _bucket_problem(context, _split(url)[0])
                if problem:
                    report.error(f"{node.where(key)}: {problem}")


@validator("S3BucketValidator", kind=KIND)
def custom_bucket(context: AwsContext, report: Report) -> None:
    bucket = context.config.custom_s3_bucket
    if not bucket:
        return
    where = context.config.where("CustomS3Bucket")
    problem = _bucket_problem(context, bucket)
    if problem:
        report.error(f"{where}: {problem}")
        return
    versioning = context.session.call(f"read the versioning of bucket {bucket}", "s3", "get_bucket_versioning",
                                      Bucket=bucket)
    if versioning.get("Status") != "Enabled":
        report.warning(f"{where}: bucket {bucket} does not keep versions; turn versioning on so that a cluster's "
                       "files can be recovered")


def _iam_sites(config) -> list[tuple[str, str, str]]:
    """(kind, ARN, where) of every InstanceRole, InstanceProfile and AdditionalIamPolicies item."""
    sites = []
    for section in [config.head_node, *config.scheduling.slurm_queues, *config.login_nodes.pools]:
        settings = section.iam
        if settings.instance_role:
            sites.append(("role", settings.instance_role, settings.where("InstanceRole")))
        if settings.instance_profile:
            sites.append(("profile", settings.instance_profile, settings.where("InstanceProfile")))
        sites += [("policy", item.policy, item.where("Policy")) for item in settings.additional_iam_policies]
    return sites


_IAM_CHECKS = {  # kind -> (IAM operation, its arguments from the ARN)
    "role": ("get_role", lambda arn: {"RoleName": arn.rsplit("/", 1)[-1]}),
    "profile": ("get_instance_profile", lambda arn: {"InstanceProfileName": arn.rsplit("/", 1)[-1]}),
    "policy": ("get_policy", lambda arn: {"PolicyArn": arn}),
}


def _iam_check(kind: str, context: AwsContext, report: Report) -> None:
    operation, arguments = _IAM_CHECKS[kind]
    for found_kind, arn, where in _iam_sites(context.config):
        if found_kind != kind:
            continue
        try:
            context.session.call(f"describe {arn}", "iam", operation, **arguments(arn))
        except NotFoundError:
            report.error(f"{where}: {arn} does not exist; create it in IAM or fix the ARN")


@validator("RoleValidator", kind=KIND)
def roles(context: AwsContext, report: Report) -> None:
    _iam_check("role", context, report)


@validator("InstanceProfileValidator", kind=KIND)
def instance_profiles(context: AwsContext, report: Report) -> None:
    _iam_check("profile", context, report)


@validator("AdditionalIamPolicyValidator", kind=KIND)
def additional_policies(context: AwsContext, report: Report) -> None:
    _iam_check("policy", context, report)
