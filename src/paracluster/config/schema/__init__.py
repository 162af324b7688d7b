"""The ParallelCluster 3 file formats as key trees (cluster and image configs) and the walker that checks them."""

from paracluster.config.schema.cluster import CLUSTER
from paracluster.config.schema.image import IMAGE_CONFIG

__all__ = ["CLUSTER", "IMAGE_CONFIG"]
