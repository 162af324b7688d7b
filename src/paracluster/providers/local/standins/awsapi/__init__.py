"""AWS APIs on the cluster network: S3 (the local buckets), Secrets Manager (the local secrets) and IMDS per node.

Each server runs as its own process of the host service (process.py); nodesdk.py gives the nodes the AWS CLI and
boto3 and the settings that point them here. Only this package imports the third-party servers it hosts.
"""
