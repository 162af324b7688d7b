"""The state one conversion shares between its checks and its mapping: the file, the chosen sections, the messages."""

from __future__ import annotations

from collections.abc import Callable

from paracluster.convert.ini import V2Config
from paracluster.convert.messages import ConversionError, Messages

# ParallelCluster's partitions by region prefix; the rest are in `aws`.
PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"))


class Context:
    """What the conversion reads (the v2 file, its cluster and vpc sections) and collects (notes and warnings).

    `account_id` and `region` are asked for only when an IAM role name must become an ARN, as ParallelCluster's
    converter asks AWS only then; they are functions so that the caller decides where the answers come from.
    """

    def __init__(
        self,
        config: V2Config,
        *,
        force: bool,
        account_id: Callable[[], str],
        region: Callable[[], str | None],
    ):
        self.ini = config
        self.force = force
        self.messages = Messages()
        self.cluster: str = ""  # "cluster NAME", chosen by checks.choose_cluster_section
        self.vpc: str | None = None  # "vpc NAME"
        self._account_id = account_id
        self._region = region

    @property
    def source(self) -> str:
        return self.ini.source

    def cluster_get(self, key: str, kind: str = "str") -> object:
        return self.ini.typed(self.cluster, key, kind)

    def role_arn(self, role_name: str) -> str:
        """The ARN of an IAM role given by name in the v2 file: arn:<partition>:iam::<account>:role/<name>."""
        region = self.ini.get("aws", "aws_region_name") or self._region()
        if not region:
            raise ConversionError(
                f"{self.source}: no region to build the ARN of IAM role {role_name} with; set aws_region_name in "
                "[aws] or the AWS_DEFAULT_REGION environment variable"
            )
        partition = next((name for prefix, name in PARTITIONS if region.startswith(prefix)), "aws")
        return f"arn:{partition}:iam::{self._account_id()}:role/{role_name}"
