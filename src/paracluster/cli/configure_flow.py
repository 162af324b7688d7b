"""The questions of `configure`, in ParallelCluster's order, and the cluster config the answers make.

Everything here talks through a Prompter (a function that shows a prompt and returns the answered line), so the
flow is the same on a terminal and with answers piped on standard input, and tests drive it with a list of answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from paracluster.config.validate.names import resource_name_problems
from paracluster.errors import BadRequestError

MAX_QUEUES = 50
MAX_COMPUTE_RESOURCES = 50  # per cluster; `configure` shares them out between the queues
DEFAULT_MAX_COUNT = 10
SUBNET_ID = re.compile(r"^subnet-[0-9a-z]{8}$|^subnet-[0-9a-z]{17}$")
AMI_ID = re.compile(r"^ami-[0-9a-z]{8}$|^ami-[0-9a-z]{17}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9_.@-][A-Za-z0-9 _.@-]{0,254}$")
DEFAULT_SUBNET = "subnet-0123456789abcdef0"
DEFAULT_KEY_NAME = "paracluster"
# Defaults that steer users rather than taking the first option, as ParallelCluster's configure does.
PREFERRED = {"Scheduler": "slurm", "Operating System": "alinux2023"}


class Choices:
    """What the answers may be on this provider: regions, key pairs, OSes, instance types and their EFA support."""

    def __init__(
        self,
        *,
        regions: list[str],
        key_pairs: list[str],
        schedulers: list[str],
        oses: list[str],
        private_oses: Collection[str],
        instance_types: Collection[str],
        efa_supported: Callable[[str], bool],
        default_instance_type: str,
        default_region: str | None,
    ):
        self.regions, self.key_pairs, self.schedulers, self.oses = regions, key_pairs, schedulers, oses
        self.private_oses, self.instance_types, self.efa_supported = private_oses, instance_types, efa_supported
        self.default_instance_type, self.default_region = default_instance_type, default_region


class Prompter:
    """Asks one question at a time: `read(prompt)` shows the prompt and returns the answer line ('' for Enter)."""

    def __init__(self, read: Callable[[str], str], write: Callable[[str], None]):
        self._read, self.write = read, write

    def ask(self, message: str, valid: Callable[[str], bool] = lambda _: True, default: object = None,
            convert: Callable[[str], str] = lambda answer: answer) -> str:
        """Ask until the answer is valid; an empty answer takes the default."""
        while True:
            answer = self._read(f"{message} [{'' if default is None else default}]: ").strip()
            value = convert(answer) if answer else ("" if default is None else str(default))
            if valid(value):
                return value
            self.write(f"ERROR: {answer or '(empty)'} is not an acceptable value for {message}\n")

    def choose(self, message: str, options: list[str], default: str | None = None) -> str:
        """Ask for one of `options`, listed with numbers; the answer is an option or its number."""
        if default not in options:
            default = PREFERRED.get(message) if PREFERRED.get(message) in options else options[0]
        self.write(f"Allowed values for {message}:\n")
        self.write("".join(f"{number}. {option}\n" for number, option in enumerate(options, start=1)))

        def by_number(answer: str) -> str:
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1]
            return answer

        return self.ask(message, lambda value: value in options, default, by_number)


def _count(low: int, high: int) -> Callable[[str], bool]:
    return lambda value: value.isdigit() and low <= int(value) <= high


def _compute_resources(p: Prompter, choices: Choices, queue: str, count: int) -> tuple[list[dict], bool]:
    resources: list[dict] = []
    efa_in_queue = False
    for index in range(1, count + 1):
        used = {resource["Instances"][0]["InstanceType"] for resource in resources}
        while True:
            instance_type = p.ask(f"Compute instance type for compute resource {index} in {queue}",
                                  lambda value: value in choices.instance_types, choices.default_instance_type)
            if instance_type not in used:
                break
            p.write(f"ERROR: {instance_type} is already a compute resource of {queue}; choose another type\n")
        resource: dict = {"Name": re.sub(r"[^A-Za-z0-9]", "", instance_type)}
        resource["Instances"] = [{"InstanceType": instance_type}]
        efa = None
        if choices.efa_supported(instance_type):
            p.write(f"{instance_type} supports the Elastic Fabric Adapter (EFA), which speeds up communication "
                    "between nodes at no extra cost.\n")
            efa = p.ask(f"Enable EFA on {instance_type} (y/n)", lambda value: value in ("y", "n"), "y") == "y"
            efa_in_queue = efa_in_queue or efa
        resource["MinCount"] = 0
        # ParallelCluster accepts 0 here, which its schema then rejects (MaxCount is at least 1); we ask for 1 or more.
        resource["MaxCount"] = int(p.ask("Maximum instance count", _count(1, 10**9), DEFAULT_MAX_COUNT))
        if efa is not None:
            resource["Efa"] = {"Enabled": efa}
        resources.append(resource)
    return resources, efa_in_queue


def _queues(p: Prompter, choices: Choices) -> list[dict]:
    count = int(p.ask("Number of queues", _count(1, MAX_QUEUES), 1))
    queues: list[dict] = []
    for index in range(1, count + 1):
        names = {queue["Name"] for queue in queues}
        while True:
            name = p.ask(f"Name of queue {index}", lambda value: not resource_name_problems(value), f"queue{index}")
            if name not in names:
                break
            p.write(f"ERROR: {name} already names a queue; choose another name\n")
        per_queue = MAX_COMPUTE_RESOURCES // count
        resources, efa = _compute_resources(
            p, choices, name, int(p.ask(f"Number of compute resources for {name}", _count(1, per_queue), 1))
        )
        queue: dict = {"Name": name, "ComputeResources": resources}
        if efa:
            p.write("EFA works best with the instances in one placement group: name an existing one, or leave it "
                    "empty for the cluster to create one.\n")
            group = p.ask("Placement Group name", lambda value: value == "" or bool(re.match(r"^[\w.-]+$", value)), "")
            queue["Networking"] = {"PlacementGroup": {"Enabled": True, **({"Id": group} if group else {})}}
        queues.append(queue)
    return queues


def ask_cluster_config(p: Prompter, choices: Choices, region: str | None = None) -> dict:
    """Ask ParallelCluster's `configure` questions and return the cluster config the answers describe."""
    if region is None:
        region = p.choose("AWS Region ID", choices.regions, choices.default_region)
    if choices.key_pairs:
        key_name = p.choose("EC2 Key Pair Name", choices.key_pairs)
    else:
        p.write("No key pair exists yet; the one named here is created when a cluster first uses it.\n")
        key_name = p.ask("EC2 Key Pair Name", lambda value: bool(KEY_NAME.match(value)), DEFAULT_KEY_NAME)
    scheduler = p.choose("Scheduler", choices.schedulers)
    image = {"Os": p.choose("Operating System", choices.oses)}
    if image["Os"] in choices.private_oses:
        p.write(f"ParallelCluster publishes no image for {image['Os']}: build one with `paracluster build-image` "
                "and give its AMI id.\n")
        image["CustomAmi"] = p.ask("Custom AMI ID", lambda value: bool(AMI_ID.match(value)))
    head_type = p.ask("Head node instance type", lambda value: value in choices.instance_types,
                      choices.default_instance_type)
    queues = _queues(p, choices)
    p.write("Each local cluster gets a network of its own; the subnet ids below are written into the config for "
            "ParallelCluster compatibility.\n")
    head_subnet = p.ask("head node subnet ID", lambda value: bool(SUBNET_ID.match(value)), DEFAULT_SUBNET)
    compute_subnet = p.ask("compute subnet ID", lambda value: bool(SUBNET_ID.match(value)), head_subnet)
    for queue in queues:
        queue["Networking"] = {**queue.get("Networking", {}), "SubnetIds": [compute_subnet]}
    return {
        "Region": region,
        "Image": image,
        "HeadNode": {"InstanceType": head_type, "Networking": {"SubnetId": head_subnet}, "Ssh": {"KeyName": key_name}},
        "Scheduling": {"Scheduler": scheduler, f"{scheduler.capitalize()}Queues": queues},
    }


def answers_ended(question: str) -> BadRequestError:
    return BadRequestError(f"standard input ended before the question '{question}' was answered; give one answer "
                           "per line (an empty line takes the default)")
