"""Cluster-wide resources of the template: the DynamoDB table (fleet status, node names) and the log group."""

from __future__ import annotations

from troposphere import dynamodb, logs

from paracluster.providers.aws.naming import INSTANCE_ID_INDEX, log_group_name, table_name
from paracluster.providers.aws.template.context import Builder


def add_cluster_resources(b: Builder) -> None:
    # One table serves both of ParallelCluster's uses: the COMPUTE_FLEET status item that update-compute-fleet
    # writes and the cluster manager reads, and one item per Slurm node (Id = node name) that a compute node finds
    # its name in through the InstanceId index.
    b.table = b.add(dynamodb.Table(
        "ClusterTable",
        TableName=table_name(b.name),
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            dynamodb.AttributeDefinition(AttributeName="Id", AttributeType="S"),
            dynamodb.AttributeDefinition(AttributeName="InstanceId", AttributeType="S"),
        ],
        KeySchema=[dynamodb.KeySchema(AttributeName="Id", KeyType="HASH")],
        GlobalSecondaryIndexes=[dynamodb.GlobalSecondaryIndex(
            IndexName=INSTANCE_ID_INDEX,
            KeySchema=[dynamodb.KeySchema(AttributeName="InstanceId", KeyType="HASH")],
            Projection=dynamodb.Projection(ProjectionType="ALL"),
        )],
        Tags=b.tags(),
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Delete",
    ))
    cloudwatch = b.config.monitoring.logs.cloud_watch
    if not cloudwatch.enabled:
        return
    values = {"LogGroupName": log_group_name(b.name, b.facts.stamp), "Tags": b.tags()}
    if cloudwatch.retention_in_days:  # 0 keeps events forever: CloudWatch's default without RetentionInDays
        values["RetentionInDays"] = cloudwatch.retention_in_days
    b.log_group = b.add(logs.LogGroup(
        "ClusterLogGroup", DeletionPolicy=cloudwatch.deletion_policy, UpdateReplacePolicy=cloudwatch.deletion_policy,
        **values))
