"""Validators of account-facing settings: directory service, IAM prefix, secrets, monitoring and compute tags."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from paracluster.config.validate.core import Context, Report, validator

_FQDN = re.compile(r"^([a-zA-Z0-9_-]+)(\.[a-zA-Z0-9_-]+)*$")
_LDAP_DN = re.compile(r"^((DC|dc)=[a-zA-Z0-9_-]+)(,(DC|dc)=[a-zA-Z0-9_-]+)*$")
LDAP_PROTOCOLS = ("ldaps", "ldap")
INSECURE_LDAP_SETTING = "ldap_auth_disable_tls_never_use_in_production"
CERTIFICATE_CHECKING_VALUES = ("hard", "demand")
RESERVED_SSSD_SETTINGS = {"id_provider": "ldap"}
SSM_PASSWORD_REGION = "us-isob-east-1"  # the only region where an SSM parameter may hold the password (legacy)

# re.match semantics: the path form only needs to start with /segment(/segment)*/ and may continue with anything.
_IAM_PATH = re.compile(r"^((/[a-zA-Z0-9_.,+@=-]+)+)/")
_IAM_NAME_PREFIX = re.compile(r"^[a-zA-Z0-9_.,+@=-]+$")
IAM_NAME_PREFIX_MAX_LENGTH = 30
IAM_PATH_MAX_LENGTH = 512

MAX_TAGS = 40


@validator("DomainNameValidator")
def domain_name(context: Context, report: Report) -> None:
    service = context.config.directory_service
    name = service.domain_name
    if service.present and name and not (_FQDN.match(name) or _LDAP_DN.match(name)):
        report.error(
            f"{service.where('DomainName')}: '{name}' is neither a domain name (corp.example.com) "
            "nor an LDAP distinguished name (DC=corp,DC=example,DC=com); use one of these forms"
        )


@validator("DomainAddrValidator")
def domain_address(context: Context, report: Report) -> None:
    service = context.config.directory_service
    address = service.domain_addr
    if not (service.present and address):
        return
    where = service.where("DomainAddr")
    try:
        # The whole value is parsed, so only the first address of a comma-separated list decides the scheme.
        scheme = urlparse(address).scheme
    except ValueError as err:
        report.error(f"{where}: '{address}' cannot be parsed as an address ({err}); use ldaps://host or ldap://host")
        return
    if not scheme:
        report.warning(f"{where}: '{address}' names no protocol, so ldaps is assumed; write ldaps://{address}")
    elif scheme not in LDAP_PROTOCOLS:
        report.warning(f"{where}: the protocol '{scheme}' is not supported; use ldaps:// (or ldap://)")
    elif scheme == "ldap":
        extra = ""
        if str(service.additional_sssd_configs.get(INSECURE_LDAP_SETTING, "false")).lower() != "true":
            extra = f", and plain ldap also needs '{INSECURE_LDAP_SETTING}: true' in AdditionalSssdConfigs"
        report.warning(f"{where}: plain ldap sends directory traffic unencrypted; prefer ldaps{extra}")


def password_secret_problem(arn: str, region: str | None) -> str | None:
    """Why a PasswordSecretArn cannot hold a password, or None when it can or only the provider can tell."""
    parts = arn.split(":")
    if len(parts) < 6:
        return f"'{arn}' is not a complete ARN; use an AWS Secrets Manager secret ARN"
    kind, resource = parts[2], parts[5]
    if kind == "ssm":
        resource = resource.split("/")[0]
    if kind == "secretsmanager" and resource == "secret":
        return None  # that the secret exists and is readable is a provider check
    if kind == "ssm" and resource == "parameter" and region in (None, SSM_PASSWORD_REGION):
        return None  # without a Region the provider decides; in that region the provider reads the parameter
    where_region = f" in region {region}" if region else ""
    return f"'{arn}' cannot hold the password{where_region}; use an AWS Secrets Manager secret ARN"


@validator("PasswordSecretArnValidator")
def password_secret_arns(context: Context, report: Report) -> None:
    config = context.config
    # ParallelCluster checks the directory service password and the Slurm accounting database password alike.
    for section in (config.directory_service, config.scheduling.slurm_settings.database):
        arn = section.password_secret_arn
        if not (section.present and arn):
            continue
        problem = password_secret_problem(arn, context.region)
        if problem:
            report.error(f"{section.where('PasswordSecretArn')}: {problem}")


@validator("LdapTlsReqCertValidator")
def ldap_tls_req_cert(context: Context, report: Report) -> None:
    service = context.config.directory_service
    value = service.ldap_tls_req_cert
    if service.present and value and value not in CERTIFICATE_CHECKING_VALUES:
        report.warning(
            f"{service.where('LdapTlsReqCert')}: '{value}' does not enforce the directory server's certificate; "
            "use hard or demand"
        )


@validator("AdditionalSssdConfigsValidator")
def additional_sssd_configs(context: Context, report: Report) -> None:
    service = context.config.directory_service
    settings = service.additional_sssd_configs
    if not (service.present and settings):
        return
    where = service.where("AdditionalSssdConfigs")
    for key, allowed in RESERVED_SSSD_SETTINGS.items():
        if key in settings and settings[key] != allowed:
            report.error(f"{where}: {key} cannot be '{settings[key]}'; ParallelCluster needs '{allowed}', remove it")
    # LdapAccessFilter works through the ldap access provider, so another provider would silently ignore it.
    provider = settings.get("access_provider")
    if "access_provider" in settings and service.ldap_access_filter is not None and provider != "ldap":
        report.error(
            f"{where}: access_provider cannot be '{provider}' when LdapAccessFilter is set; "
            "use 'ldap' or remove LdapAccessFilter"
        )


def split_resource_prefix(prefix: str) -> tuple[str | None, str | None]:
    """Split an IAM ResourcePrefix into (path, name prefix) the way ParallelCluster does."""
    cut = prefix.rfind("/") + 1
    path = None if cut == 0 else prefix[:cut]
    name = None if cut == len(prefix) else prefix[cut:]
    return path, name


@validator("IamResourcePrefixValidator")
def iam_resource_prefix(context: Context, report: Report) -> None:
    iam = context.config.iam
    prefix = iam.resource_prefix
    if not prefix:
        return
    where = iam.where("ResourcePrefix")
    if not (_IAM_PATH.match(prefix) or _IAM_NAME_PREFIX.match(prefix)):
        report.error(
            f"{where}: '{prefix}' is neither an IAM path (/path/) nor a name prefix; use letters, digits "
            "and _.,+@=- with an optional /path/ in front"
        )
    path, name = split_resource_prefix(prefix)
    if name and len(name) > IAM_NAME_PREFIX_MAX_LENGTH:
        report.error(
            f"{where}: the name prefix '{name}' has {len(name)} characters; use at most {IAM_NAME_PREFIX_MAX_LENGTH}"
        )
    if path and len(path) > IAM_PATH_MAX_LENGTH:
        report.error(f"{where}: the IAM path has {len(path)} characters; use at most {IAM_PATH_MAX_LENGTH}")


@validator("ArnServiceAndResourceValidator")
def munge_key_secret_arn(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    arn = settings.munge_key_secret_arn
    if not arn:
        return
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "secretsmanager" or parts[5] != "secret":
        report.error(
            f"{settings.where('MungeKeySecretArn')}: '{arn}' is not a Secrets Manager secret ARN; "
            "use arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME"
        )


@validator("LogRotationValidator")
def log_rotation(context: Context, report: Report) -> None:
    logs = context.config.monitoring.logs
    if not logs.cloud_watch.enabled and logs.rotation.enabled:
        report.warning(
            f"{logs.cloud_watch.where('Enabled')}: CloudWatch logging is off while log rotation is on, so old logs "
            "are deleted from the nodes; set Monitoring/Logs/Rotation/Enabled to false to keep them"
        )


@validator("DetailedMonitoringValidator")
def detailed_monitoring(context: Context, report: Report) -> None:
    monitoring = context.config.monitoring
    if monitoring.detailed_monitoring:
        report.warning(
            f"{monitoring.where('DetailedMonitoring')}: 1-minute EC2 monitoring of the compute nodes costs extra; "
            "set it to false if basic 5-minute monitoring is enough"
        )


def _tag_keys(tags: list) -> set[str]:
    return {tag.key for tag in tags}


@validator("ComputeResourceTagsValidator")
def compute_resource_tags(context: Context, report: Report) -> None:
    config = context.config
    cluster = _tag_keys(config.tags)
    for queue in config.scheduling.slurm_queues:
        queue_keys = _tag_keys(queue.tags)
        for resource in queue.compute_resources:
            own = _tag_keys(resource.tags)
            everywhere = cluster & queue_keys & own
            # Each overlap names the narrower level whose value wins, for this compute resource's nodes.
            here, in_queue = resource.where("Tags"), queue.where("Tags")
            overlaps = [
                (everywhere, here, "the cluster, queue and compute resource Tags", "compute resource"),
                ((cluster & queue_keys) - everywhere, in_queue, "the cluster and queue Tags", "queue"),
                ((queue_keys & own) - everywhere, here, "the queue and compute resource Tags", "compute resource"),
                ((cluster & own) - everywhere, here, "the cluster and compute resource Tags", "compute resource"),
            ]
            for keys, where, places, winner in overlaps:
                if keys:
                    report.warning(
                        f"{where}: the tag keys {', '.join(sorted(keys))} are set in {places}, and the {winner} "
                        f"values win for compute resource '{resource.name}' in queue '{queue.name}'; "
                        "set each key at one level unless that override is intended"
                    )
            count = len(cluster | queue_keys | own)
            if count > MAX_TAGS:
                report.error(
                    f"{here}: compute resource '{resource.name}' in queue '{queue.name}' gets "
                    f"{count} tags from the cluster, queue and its own Tags; EC2 allows at most {MAX_TAGS}"
                )
