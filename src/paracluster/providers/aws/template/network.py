"""Security groups of the template: head, compute, login and storage groups with ParallelCluster's rules.

A node group that lists its own `SecurityGroups` gets no managed group; `AdditionalSecurityGroups` are added to the
managed one. The head node admits SSH (and DCV when enabled) from `AllowedIps`; login nodes admit SSH and the
pool's extra ports from their AllowedIps and from the VPC (the load balancer's health checks); head, compute and
login nodes talk to each other freely (slurmctld, slurmd, srun and munge use many ports); managed storage admits
NFS (EFS) and Lustre from the nodes.
"""

from __future__ import annotations

from troposphere import ec2

from paracluster.providers.aws.template.context import HEAD, Builder, pool_key, queue_key

EFS_PORTS = ((2049, 2049),)
LUSTRE_PORTS = ((988, 988), (1018, 1023))


def _peer(value: str) -> dict:
    """CidrIp or SourcePrefixListId for an AllowedIps value (a CIDR or a prefix list id)."""
    return {"SourcePrefixListId": value} if value.startswith("pl-") else {"CidrIp": value}


def _rule(port: int, allowed: str, description: str) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, Description=description,
                                 **_peer(allowed))


def add_security_groups(b: Builder) -> None:
    config = b.config
    head = config.head_node
    queues = config.scheduling.slurm_queues
    pools = config.login_nodes.pools
    managed: dict[str, object] = {}

    if not head.networking.security_groups:
        rules = [_rule(22, head.ssh.allowed_ips, "SSH from HeadNode/Ssh/AllowedIps")]
        if head.dcv.enabled:
            rules.append(_rule(head.dcv.port, head.dcv.allowed_ips, "DCV from HeadNode/Dcv/AllowedIps"))
        managed["head"] = b.add(ec2.SecurityGroup(
            "HeadNodeSecurityGroup", GroupDescription=f"Head node of cluster {b.name}", VpcId=b.facts.vpc_id,
            SecurityGroupIngress=rules, Tags=b.tags()))
    if any(not queue.networking.security_groups for queue in queues):
        managed["compute"] = b.add(ec2.SecurityGroup(
            "ComputeSecurityGroup", GroupDescription=f"Compute nodes of cluster {b.name}", VpcId=b.facts.vpc_id,
            Tags=b.tags()))
    if any(not pool.networking.security_groups for pool in pools):
        rules = []
        for pool in pools:
            allowed = pool.ssh.allowed_ips or head.ssh.allowed_ips
            for port in (22, *b.facts.extra_login_ports.get(pool.name, ())):
                rules.append(_rule(port, allowed, f"port {port} of login pool {pool.name} from its AllowedIps"))
                rules.append(_rule(port, b.facts.vpc_cidr, f"health checks of login pool {pool.name}'s balancer"))
        managed["login"] = b.add(ec2.SecurityGroup(
            "LoginNodesSecurityGroup", GroupDescription=f"Login nodes of cluster {b.name}", VpcId=b.facts.vpc_id,
            SecurityGroupIngress=_unique_rules(rules), Tags=b.tags()))
    if _managed_storage_ports(b):
        managed["storage"] = b.add(ec2.SecurityGroup(
            "StorageSecurityGroup", GroupDescription=f"Managed file systems of cluster {b.name}",
            VpcId=b.facts.vpc_id, Tags=b.tags()))
    b.managed_security_groups = managed

    b.node_security_groups[HEAD] = _node_groups(b, managed.get("head"), head.networking)
    for queue in queues:
        b.node_security_groups[queue_key(queue.name)] = _node_groups(b, managed.get("compute"), queue.networking)
    for pool in pools:
        b.node_security_groups[pool_key(pool.name)] = _node_groups(b, managed.get("login"), pool.networking)
    _add_ingress_between_nodes(b)


def _unique_rules(rules: list) -> list:
    seen, unique = set(), []
    for rule in rules:
        key = tuple(sorted((k, str(v)) for k, v in rule.to_dict().items() if k != "Description"))
        if key not in seen:
            seen.add(key)
            unique.append(rule)
    return unique


def _node_groups(b: Builder, managed_group, networking) -> list:
    if networking.security_groups:
        return list(networking.security_groups)
    return [b.group_id(managed_group), *networking.additional_security_groups]


def _sources(b: Builder, role: str) -> list:
    """The security groups (resources or ids) whose members are nodes of a role (head, compute, login)."""
    managed = b.managed_security_groups.get(role)
    custom: list[str] = []
    if role == "head":
        custom = list(b.config.head_node.networking.security_groups)
    else:
        sections = b.config.scheduling.slurm_queues if role == "compute" else b.config.login_nodes.pools
        for section in sections:
            custom += section.networking.security_groups
    return ([managed] if managed is not None else []) + list(dict.fromkeys(custom))


# Which node roles may reach which: slurmctld, slurmd, srun callbacks and munge use many ports.
_REACHES = {"head": ("compute", "login"), "compute": ("head", "compute", "login"), "login": ("head", "compute")}


def _add_ingress_between_nodes(b: Builder) -> None:
    for target, sources in _REACHES.items():
        group = b.managed_security_groups.get(target)
        if group is None:
            continue
        for role in sources:
            for source in _sources(b, role):
                _ingress(b, group, source, 0, 0, "-1", f"all traffic from the {role} nodes")
    storage = b.managed_security_groups.get("storage")
    if storage is not None:
        for role in ("head", "compute", "login", "storage"):
            sources = [storage] if role == "storage" else _sources(b, role)
            for source in sources:
                for low, high in _managed_storage_ports(b):
                    _ingress(b, storage, source, low, high, "tcp", f"file system traffic from the {role} nodes")


def _ingress(b: Builder, group, source, low: int, high: int, protocol: str, description: str) -> None:
    source_name = source.title if not isinstance(source, str) else source
    ports = {} if protocol == "-1" else {"FromPort": low, "ToPort": high}  # protocol -1 is every port
    label = "" if not ports else (f"{low}" if low == high else f"{low}to{high}")
    b.add(ec2.SecurityGroupIngress(
        b.unique_id(group.title, "From", source_name, label), GroupId=b.group_id(group),
        SourceSecurityGroupId=b.group_id(source), IpProtocol=protocol, Description=description, **ports))


def _managed_storage_ports(b: Builder) -> tuple[tuple[int, int], ...]:
    """The ports the storage group opens: NFS when the cluster makes an EFS, Lustre when it makes an FSx."""
    types = {storage.storage_type for storage in b.plan.storage if not storage.existing_id}
    ports: tuple[tuple[int, int], ...] = ()
    if "Efs" in types or b.config.head_node.shared_storage_type == "Efs":
        ports += EFS_PORTS
    if "FsxLustre" in types:
        ports += LUSTRE_PORTS
    return ports
