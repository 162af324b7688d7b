"""`paracluster configure -c OUT [--region R]`: ask ParallelCluster's questions and write a cluster config.

The choices offered are the provider's: its key pairs and the instance type catalog. It reads answers line by line
from standard input, so it works on a terminal and with answers piped in (one per line, empty for the default).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# ParallelCluster 3.16's supported regions (pcluster/resources/supported-regions); on the local provider the region
# is only recorded in the config.
REGIONS = (
    "af-south-1 ap-east-1 ap-northeast-1 ap-northeast-2 ap-south-1 ap-southeast-1 ap-southeast-2 ap-southeast-3 "
    "ap-southeast-5 ap-southeast-7 ca-central-1 cn-north-1 cn-northwest-1 eu-central-1 eu-north-1 eu-south-1 "
    "eu-west-1 eu-west-2 eu-west-3 il-central-1 me-south-1 sa-east-1 us-east-1 us-east-2 us-iso-east-1 "
    "us-iso-west-1 us-isob-east-1 us-gov-east-1 us-gov-west-1 us-west-1 us-west-2"
).split()
DEFAULT_INSTANCE_TYPE = "t3.micro"  # ParallelCluster's default where no free-tier type is offered


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--region", help="The region to write into the config; asked for when not given.")
    parser.add_argument("-c", "--config", required=True, help="Where to write the cluster config (a new file).")


def _key_pair_names() -> list[str]:
    """The key pairs users can choose from: today those `describe-key-pairs` lists, the local provider's.

    One small function on purpose: the provider layer will answer this for every provider.
    """
    from paracluster.cli.key_pairs import run_describe_key_pairs

    return [pair["keyName"] for pair in run_describe_key_pairs(argparse.Namespace())["keyPairs"]]


def _choices():
    from paracluster.catalog import default_catalog
    from paracluster.cli.configure_flow import Choices
    from paracluster.config.validate.cluster_rules import PRIVATE_OSES
    from paracluster.config.versions import CURRENT_OSES

    catalog = default_catalog()
    names = set(catalog.names())
    env_region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    return Choices(
        regions=list(REGIONS),
        key_pairs=_key_pair_names(),
        schedulers=["slurm"],  # ParallelCluster 3.16 has no other
        oses=list(CURRENT_OSES),
        private_oses=PRIVATE_OSES,
        instance_types=names,
        efa_supported=lambda name: catalog[name].efa_supported,
        default_instance_type=DEFAULT_INSTANCE_TYPE,
        default_region=env_region,
    )


def _read_answer(question: str) -> str:
    sys.stdout.write(question)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        from paracluster.cli.configure_flow import answers_ended

        raise answers_ended(question.rsplit(" [", 1)[0])
    if not sys.stdin.isatty():
        sys.stdout.write(line if line.endswith("\n") else line + "\n")  # show piped answers, as a terminal would
    return line.rstrip("\n")


def _write(text: str) -> None:
    sys.stdout.write(text)


def run(args: argparse.Namespace) -> None:
    from paracluster.cli.configure_flow import Prompter, ask_cluster_config
    from paracluster.config.validate import validate_config
    from paracluster.config.yamlfile import dump_yaml, write_new_config_file
    from paracluster.errors import BadRequestError

    path = Path(args.config)
    if path.exists():
        raise BadRequestError(f"-c {path} already exists; give the path of a new file")
    _write(f"INFO: Configuration file {path} will be written.\nPress CTRL-C to interrupt the procedure.\n\n")
    config = ask_cluster_config(Prompter(_read_answer, _write), _choices(), args.region)
    text = dump_yaml(config)
    write_new_config_file(path, text, "-c")
    _write(f"Configuration file written to {path}\n")
    outcome = validate_config(None, text=text, region=config["Region"])
    for finding in outcome.findings:
        _write(f"{finding.level.name}: {finding.message}\n")
    if outcome.blocking:
        raise BadRequestError(f"{path} does not validate (the errors are above); edit it before creating a cluster")
    _write(
        f"You can edit the file, or create the cluster with: paracluster create-cluster --cluster-configuration "
        f"{path} --cluster-name NAME --region {config['Region']}\n"
    )
