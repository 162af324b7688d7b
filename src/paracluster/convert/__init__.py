"""Convert ParallelCluster 2 INI configs to ParallelCluster 3 YAML, as `pcluster3-config-converter` does.

`convert_v2` is a pure function of the INI text: it returns the v3 config (a dict in ParallelCluster's key order),
its notes and warnings, or raises ConversionError with one sentence. `to_yaml` writes the result as ParallelCluster
writes it: the notes and warnings as comments, then the YAML with lists indented under their key.
"""

from __future__ import annotations

from collections.abc import Callable

from paracluster.config.yamlfile import dump_yaml
from paracluster.convert.checks import run_checks
from paracluster.convert.context import Context
from paracluster.convert.ini import V2Config, looks_like_v2_ini
from paracluster.convert.mapping import convert_cluster
from paracluster.convert.messages import ConversionError, Message

__all__ = ["Conversion", "ConversionError", "Message", "convert_v2", "looks_like_v2_ini", "to_yaml"]


class Conversion:
    """A converted config: `config` (the v3 data), `messages` (notes and warnings) and `comments` (text above it)."""

    def __init__(self, config: dict, messages: list[Message], comments: str):
        self.config, self.messages, self.comments = config, messages, comments


def convert_v2(
    text: str,
    *,
    source: str = "<config>",
    cluster_template: str | None = None,
    force: bool = False,
    account_id: Callable[[], str],
    region: Callable[[], str | None] = lambda: None,
) -> Conversion:
    """Convert the v2 INI `text`; `account_id` and `region` answer only when an IAM role name needs an ARN."""
    ctx = Context(V2Config(text, source), force=force, account_id=account_id, region=region)
    run_checks(ctx, cluster_template)
    config = convert_cluster(ctx)
    return Conversion(config, ctx.messages.items, ctx.messages.comments())


def to_yaml(conversion: Conversion) -> str:
    return conversion.comments + dump_yaml(conversion.config)
