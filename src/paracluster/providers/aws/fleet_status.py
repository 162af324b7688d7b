"""The compute fleet status of a cluster on AWS: the COMPUTE_FLEET item of its DynamoDB table.

update-compute-fleet writes a request (STOP_REQUESTED, START_REQUESTED) with a conditional write, so a request that
does not fit the current status is refused without a race; the head node's cluster manager carries it out and moves
the status on. Until the head node first writes the item the status is UNKNOWN, and a stop may be requested.
"""

from __future__ import annotations

from paracluster.errors import BadRequestError, ClusterError, ConflictError, NotFoundError
from paracluster.providers.aws.naming import FLEET_ITEM_ID, table_name
from paracluster.records import FleetStatusRecord, now

# Requested status -> the statuses it may follow (as the local provider and ParallelCluster allow).
ALLOWED = {"START_REQUESTED": ("STOPPED", "STOPPING", "STOP_REQUESTED", "PROTECTED"),
           "STOP_REQUESTED": ("RUNNING", "STARTING", "START_REQUESTED", "PROTECTED")}
UNKNOWN = "UNKNOWN"


def read(session, cluster: str) -> FleetStatusRecord:
    try:
        answer = session.call(f"read the compute fleet status of cluster '{cluster}'", "dynamodb", "get_item",
                              TableName=table_name(cluster), Key={"Id": {"S": FLEET_ITEM_ID}}, ConsistentRead=True)
    except NotFoundError:
        return FleetStatusRecord(UNKNOWN, None)  # the table is not created yet, or is gone
    data = answer.get("Item", {}).get("Data", {}).get("M", {})
    return FleetStatusRecord(data.get("status", {}).get("S", UNKNOWN), data.get("lastStatusUpdatedTime", {}).get("S"))


def request(session, cluster: str, status: str) -> FleetStatusRecord:
    """Write a stop or start request if the current status allows it."""
    if status not in ALLOWED:
        raise BadRequestError(f"--status {status} is not valid for a Slurm cluster; use START_REQUESTED or "
                              "STOP_REQUESTED")
    allowed = ALLOWED[status]
    values = {f":s{index}": {"S": value} for index, value in enumerate(allowed)}
    condition = f"#data.#status IN ({', '.join(values)})"
    if status == "STOP_REQUESTED":
        condition = f"attribute_not_exists(Id) OR {condition}"
    stamp = now()
    try:
        session.call(f"request {status} for the compute fleet of cluster '{cluster}'", "dynamodb", "put_item",
                     TableName=table_name(cluster),
                     Item={"Id": {"S": FLEET_ITEM_ID},
                           "Data": {"M": {"status": {"S": status}, "lastStatusUpdatedTime": {"S": stamp}}}},
                     ConditionExpression=condition, ExpressionAttributeNames={"#data": "Data", "#status": "status"},
                     ExpressionAttributeValues=values)
    except ClusterError as err:
        if "ConditionalCheckFailed" not in str(err):
            raise
        current = read(session, cluster).status
        raise ConflictError(f"the compute fleet of cluster '{cluster}' is {current}; {status} is not possible "
                            "now") from None
    return FleetStatusRecord(status, stamp)
