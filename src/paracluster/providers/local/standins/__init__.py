"""Local stand-ins for AWS services: key pairs, buckets, secrets, storage, databases, load balancers, AWS APIs."""
