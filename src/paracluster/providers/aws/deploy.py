"""Deploying a cluster: its bucket and files in S3, and its CloudFormation stack (create, describe, list, delete).

A cluster's files live under `paracluster/clusters/<name>/` of one bucket per account and region (or of
CustomS3Bucket): the config, and the template when it is larger than CloudFormation's TemplateBody limit, so the
stack is created from its TemplateURL. The bucket keeps versions; deleting a cluster removes every version of its
files, and the bucket stays for other clusters.
"""

from __future__ import annotations

from paracluster.errors import BadRequestError, ClusterError, ConflictError, NotFoundError
from paracluster.providers.aws.naming import TAG_PARACLUSTER_CLUSTER, TAG_PARACLUSTER_VERSION

TAG_BUCKET = "paracluster:bucket"


# --- the cluster bucket -----------------------------------------------------------------------------------------


def ensure_bucket(session, bucket: str, custom: bool) -> None:
    """Make the cluster bucket if it does not exist (versioned, encrypted, private); CustomS3Bucket must exist."""
    try:
        session.call(f"reach bucket {bucket}", "s3", "head_bucket", Bucket=bucket)
        return
    except NotFoundError:
        if custom:
            raise BadRequestError(f"CustomS3Bucket: bucket {bucket} does not exist; create it first") from None
    what = f"create bucket {bucket}"
    location = {} if session.region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": session.region}}
    session.call(what, "s3", "create_bucket", Bucket=bucket, **location)
    session.call(what, "s3", "put_bucket_versioning", Bucket=bucket,
                 VersioningConfiguration={"Status": "Enabled"})
    session.call(what, "s3", "put_public_access_block", Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    session.call(what, "s3", "put_bucket_encryption", Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


def upload(session, bucket: str, key: str, body: bytes) -> None:
    session.call(f"upload s3://{bucket}/{key}", "s3", "put_object", Bucket=bucket, Key=key, Body=body)


def object_url(session, bucket: str, key: str) -> str:
    """The https URL of an object, as CloudFormation's TemplateURL takes it."""
    suffix = ".cn" if session.region.startswith("cn-") else ""
    return f"https://{bucket}.s3.{session.region}.amazonaws.com{suffix}/{key}"


def remove_files(session, bucket: str, prefix: str) -> int:
    """Delete every version of every object under `prefix/`; return how many were deleted."""
    what = f"remove the files of s3://{bucket}/{prefix}/"
    try:
        versions = session.pages(what, "s3", "list_object_versions", "Versions", Bucket=bucket, Prefix=f"{prefix}/")
        markers = session.pages(what, "s3", "list_object_versions", "DeleteMarkers", Bucket=bucket,
                                Prefix=f"{prefix}/")
    except NotFoundError:
        return 0  # no bucket, no files
    objects = [{"Key": item["Key"], "VersionId": item["VersionId"]} for item in versions + markers]
    for start in range(0, len(objects), 1000):  # DeleteObjects takes up to 1,000 keys
        session.call(what, "s3", "delete_objects", Bucket=bucket,
                     Delete={"Objects": objects[start:start + 1000], "Quiet": True})
    return len(objects)


# --- the stack --------------------------------------------------------------------------------------------------


def stack_tags(config, name: str, bucket: str, version: str) -> list[dict]:
    """The stack's tags: the config's Tags, and ParaCluster's own (which mark the stack as a ParaCluster cluster)."""
    tags = {tag.key: tag.value for tag in config.tags}
    tags.update({TAG_PARACLUSTER_CLUSTER: name, TAG_PARACLUSTER_VERSION: version, TAG_BUCKET: bucket})
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def create_stack(session, name: str, *, body: str | None, url: str | None, tags: list[dict],
                 rollback_on_failure: bool, token: str) -> str:
    """Start creating the stack; return its id. `token` makes a retried request the same request."""
    source = {"TemplateURL": url} if url else {"TemplateBody": body}
    try:
        answer = session.call(f"create the stack of cluster '{name}'", "cloudformation", "create_stack",
                              StackName=name, Capabilities=["CAPABILITY_IAM"], Tags=tags,
                              OnFailure="ROLLBACK" if rollback_on_failure else "DO_NOTHING",
                              ClientRequestToken=token, **source)
    except ConflictError:
        raise ConflictError(f"cluster '{name}' already exists in {session.region}; choose another name or delete "
                            f"it with `paracluster delete-cluster -n {name} --provider aws`") from None
    return answer["StackId"]


def describe_stack(session, name: str) -> dict | None:
    """The stack of a cluster, or None when there is none (deleted stacks are not found by name)."""
    try:
        stacks = session.call(f"describe cluster '{name}'", "cloudformation", "describe_stacks",
                              StackName=name)["Stacks"]
    except ClusterError as err:
        if "does not exist" in str(err):
            return None
        raise
    return stacks[0] if stacks else None


def is_cluster_stack(stack: dict) -> bool:
    return any(tag["Key"] == TAG_PARACLUSTER_CLUSTER for tag in stack.get("Tags", []))


def require_cluster_stack(session, name: str) -> dict:
    stack = describe_stack(session, name)
    if stack is None or not is_cluster_stack(stack):
        raise NotFoundError(f"cluster '{name}' does not exist in {session.region}; list the clusters with "
                            "`paracluster list-clusters --provider aws`")
    return stack


def list_cluster_stacks(session) -> list[dict]:
    """Every stack of the region that carries ParaCluster's cluster tag (deleted ones are not listed)."""
    stacks = session.pages("list clusters", "cloudformation", "describe_stacks", "Stacks")
    return [stack for stack in stacks if is_cluster_stack(stack)]


def delete_stack(session, name: str, stack_id: str) -> None:
    session.call(f"delete the stack of cluster '{name}'", "cloudformation", "delete_stack", StackName=stack_id)


def outputs(stack: dict) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def tags(stack: dict) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in stack.get("Tags", [])}
