"""Time the aws provider's dry run: `create-cluster --dryrun true --provider aws` of examples/research.yaml as whole
processes against a moto server, which run the pure validators, the AWS validators and build the template.

Usage: python bench/bench_aws_synth.py [--runs N]

The script starts a moto server on 127.0.0.1 (its own thread), makes the example's VPC, subnet, key pair and buckets
there, and points the runs at it with AWS_ENDPOINT_URL and fake credentials (nothing reaches AWS, and the host's
metadata service is never asked). It prints the median, p90 and peak memory of the runs, where the time goes, and the
reference: the AWS CDK's synth of an equivalent 43-resource template took about 7 s and 530 MB per process on this
machine (../shared/reference/probe-aws-provider.md); ParallelCluster's own synth cannot run offline. It asserts
nothing: it reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
AMIS = PROJECT / "tests" / "unit" / "providers" / "aws" / "amis.json"
EXAMPLE = PROJECT / "examples" / "research.yaml"
EXAMPLE_SUBNET = "subnet-0123456789abcdef0"
REGION = "us-east-1"
TARGET_SECONDS = 0.5
CDK_SECONDS, CDK_MIB = 7.0, 530
FAKE = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "MOTO_AMIS_PATH": str(AMIS)}


def start_moto() -> tuple[object, str]:
    import logging

    os.environ.update(FAKE)  # before moto is imported: it reads MOTO_AMIS_PATH once
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def make_site(endpoint: str) -> str:
    """The example's VPC, subnet, key pair, scripts and data bucket in moto; returns the subnet id."""
    import boto3

    def client(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    ec2.create_key_pair(KeyName="research")
    s3 = client("s3")
    for bucket in ("research-site", "research-data"):
        s3.create_bucket(Bucket=bucket)
    for script in (PROJECT / "examples" / "scripts").iterdir():
        s3.put_object(Bucket="research-site", Key=f"bootstrap/{script.name}", Body=script.read_bytes())
    return subnet


def run_once(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 1 or "Request would have succeeded" not in result.stdout:
        raise SystemExit(f"failed to dry-run {' '.join(argv)}: {result.stdout[-800:]} {result.stderr[-800:]}")
    return elapsed


# The dry run's own peak memory, as VmHWM of its address space at exit: getrusage's maxrss would also count the pages
# the fork copied from this (moto-laden) process before the exec.
_PEAK = ("import atexit, sys; from paracluster.cli import main; "
         "atexit.register(lambda: sys.stderr.write([line for line in open('/proc/self/status') "
         "if line.startswith('VmHWM')][0])); main(sys.argv[1:])")


def peak_mib(arguments: list[str], env: dict) -> float:
    result = subprocess.run([sys.executable, "-c", _PEAK, *arguments], capture_output=True, text=True, env=env)
    lines = [line for line in result.stderr.splitlines() if line.startswith("VmHWM")]
    return int(lines[-1].split()[1]) / 1024 if lines else float("nan")  # VmHWM is in kB


def breakdown(config_path: Path, env: dict) -> str:
    """Where one dry run's time goes, measured in a child process."""
    code = f"""
import time, sys
t0 = time.perf_counter()
from paracluster import api
from paracluster.providers.aws.template import build_template
import boto3
t1 = time.perf_counter()
from paracluster.config.validate import validate_config
outcome = validate_config(None, text=open({str(config_path)!r}).read(), cluster_name="research")
t2 = time.perf_counter()
provider = api.provider("aws")
findings = provider.validate_cluster("research", outcome.config, None, ())
t3 = time.perf_counter()
from paracluster.plan import build_plan
from paracluster.providers.aws.lookups import Lookups, template_facts
from paracluster.providers.aws.provider import session_for
facts = template_facts(Lookups(session_for(None)), outcome.config, build_plan("research", outcome.config), "0", {{}})
t4 = time.perf_counter()
template = build_template(outcome.config, build_plan("research", outcome.config), facts)
t5 = time.perf_counter()
print(f"imports {{t1 - t0:.3f}} s, pure validation {{t2 - t1:.3f}} s, AWS validators + template {{t3 - t2:.3f}} s "
      f"(of which the template alone {{t5 - t4:.3f}} s, {{len(template.resources)}} resources)")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return result.stdout.strip() or result.stderr[-500:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    server, endpoint = start_moto()
    try:
        subnet = make_site(endpoint)
        with tempfile.TemporaryDirectory(prefix="paracluster-bench-") as scratch:
            config = Path(scratch) / "research.yaml"
            config.write_text(EXAMPLE.read_text().replace(EXAMPLE_SUBNET, subnet))
            env = {**os.environ, **FAKE, "AWS_ENDPOINT_URL": endpoint, "PARACLUSTER_STATE_DIR": scratch}
            argv = [sys.executable, "-m", "paracluster", "create-cluster", "-n", "research", "-c", str(config),
                    "--dryrun", "true", "--provider", "aws"]
            run_once(argv, env)  # warm-up: page cache and moto's first requests
            times = [run_once(argv, env) for _ in range(args.runs)]
            peak = peak_mib(argv[3:], env)
            detail = breakdown(config, env)
    finally:
        server.stop()
    times.sort()
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
    print(f"aws dry run of {EXAMPLE.relative_to(PROJECT)} (validators, AWS validators against moto, template), "
          f"{args.runs} whole processes:")
    print(f"  ParaCluster: median {median:.3f} s, p90 {p90:.3f} s, peak RSS {peak:.0f} MiB "
          f"(target: under {TARGET_SECONDS} s)")
    print(f"  reference:   AWS CDK synth of an equivalent template, about {CDK_SECONDS:.0f} s and {CDK_MIB} MB per "
          "process (probe-aws-provider.md); ParallelCluster's synth cannot run offline")
    print(f"  one run:     {detail}")


if __name__ == "__main__":
    main()
