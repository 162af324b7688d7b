"""Tests of the built-in instance type catalog, its DescribeInstanceTypes conversion and its generator."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from paracluster.catalog import (
    DATA_FILE,
    InstanceTypeCatalog,
    default_catalog,
    from_describe,
    load_extra_file,
)

PROJECT = Path(__file__).resolve().parents[3]
CORPUS = (PROJECT.parent / "shared" / "corpus").resolve()
# A real type name is family.size; this drops placeholders (String, optimal), families (c4) and jinja.
REAL_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
# Only the values matter here, and the C loader reads the corpus about ten times faster.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MINIMAL = {"InstanceType": "x9.large", "VCpuInfo": {"DefaultVCpus": 4}, "MemoryInfo": {"SizeInMiB": 8192}}


def _collect(node, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "InstanceType" and isinstance(value, str):
                found.add(value)
            elif key == "InstanceTypes" and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            _collect(value, found)
    elif isinstance(node, list):
        for item in node:
            _collect(item, found)


def corpus_instance_types() -> set[str]:
    found: set[str] = set()
    for path in sorted(CORPUS.glob("pcluster*/**/*.y*ml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            for doc in yaml.load_all(text, Loader=YAML_LOADER):
                _collect(doc, found)
        except yaml.YAMLError:
            # Jinja templates are not YAML until rendered; their literal InstanceType values still count.
            found.update(re.findall(r"InstanceType:\s*([^\s#]+)", text))
    return {name for name in found if REAL_TYPE.match(name)}


def test_c5d_24xlarge():
    c5d = default_catalog().get("c5d.24xlarge")
    assert c5d is not None
    assert (c5d.vcpus, c5d.cores, c5d.threads_per_core, c5d.memory_mib) == (96, 48, 2, 196608)
    assert c5d.instance_store_disks == (900, 900, 900, 900)
    assert c5d.instance_store_type == "ssd"
    assert c5d.efa_supported is False
    assert c5d.architectures == ("x86_64",)
    assert c5d.gpus == 0 and c5d.gpu_manufacturer is None


def test_gpu_type():
    p4d = default_catalog()["p4d.24xlarge"]
    assert (p4d.gpus, p4d.gpu_manufacturer, p4d.gpu_memory_mib) == (8, "NVIDIA", 8 * 40960)
    assert p4d.efa_supported and p4d.network_cards == 4
    assert "cluster" in p4d.placement_group_strategies


def test_supplement_types():
    p3 = default_catalog().get("p3.2xlarge")
    assert p3 is not None
    assert (p3.vcpus, p3.memory_mib, p3.gpus, p3.gpu_manufacturer) == (8, 62464, 1, "NVIDIA")
    assert default_catalog()["p3.16xlarge"].gpus == 8


@pytest.mark.parametrize(
    "name",
    ["c7a.48xlarge", "c5d.24xlarge", "t2.micro", "t3.micro", "c5.xlarge", "c5n.18xlarge", "hpc7g.16xlarge",
     "p4d.24xlarge", "g4dn.xlarge", "trn1.32xlarge", "p3.2xlarge", "p3.8xlarge", "p3.16xlarge", "p3dn.24xlarge"],
)
def test_well_known_types_present(name):
    assert name in default_catalog()


def test_burstable_and_arm():
    catalog = default_catalog()
    assert catalog["t3.micro"].burstable
    assert catalog["hpc7g.16xlarge"].architectures == ("arm64",)
    assert catalog.get("no.such-type") is None
    assert "no.such-type" not in catalog
    assert catalog.names() == sorted(catalog.names()) and len(catalog.names()) == len(catalog) > 1000


def test_from_describe_minimal_entry():
    t = from_describe(MINIMAL)
    assert (t.name, t.vcpus, t.cores, t.threads_per_core, t.memory_mib) == ("x9.large", 4, 4, 1, 8192)
    assert t.gpus == 0 and t.accelerators == 0 and not t.efa_supported and not t.burstable
    assert t.instance_store_disks == () and t.instance_store_type is None and t.architectures == ()
    assert t.network_cards == 1 and t.network_interfaces == 1


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"VCpuInfo": {"DefaultVCpus": 4}, "MemoryInfo": {"SizeInMiB": 8192}}, "no InstanceType name"),
        ({"InstanceType": "x9.large", "MemoryInfo": {"SizeInMiB": 8192}}, "x9.large.*VCpuInfo"),
        ({"InstanceType": "x9.large", "VCpuInfo": {"DefaultVCpus": 4}}, "x9.large.*MemoryInfo"),
        ({**MINIMAL, "GpuInfo": {"Gpus": [{"Count": "many"}]}}, "x9.large"),
        ("not an entry", "must be an object"),
    ],
)
def test_from_describe_broken_entry(entry, message):
    with pytest.raises(ValueError, match=message):
        from_describe(entry)


def test_with_extra_adds_and_overrides():
    base = default_catalog()
    extra = base.with_extra(
        {
            "hpc": {"VCpuInfo": {"DefaultVCpus": 36, "DefaultCores": 18}, "MemoryInfo": {"SizeInMiB": 65536}},
            "c5.xlarge": {**MINIMAL, "InstanceType": "c5.xlarge", "NetworkInfo": {"EfaSupported": True}},
        }
    )
    assert extra["hpc"].cores == 18 and extra["hpc"].threads_per_core == 1
    assert extra["c5.xlarge"].vcpus == 4 and extra["c5.xlarge"].efa_supported
    assert len(extra) == len(base) + 1
    # The base catalog, shared by everyone through default_catalog(), is left alone.
    assert "hpc" not in base and base["c5.xlarge"].memory_mib == 8192 and not base["c5.xlarge"].efa_supported
    with pytest.raises(ValueError, match="says InstanceType"):
        base.with_extra({"a.b": MINIMAL})


def test_load_extra_file(tmp_path):
    good = tmp_path / "types.json"
    good.write_text(json.dumps({"x9.large": MINIMAL}))
    assert default_catalog().with_extra(load_extra_file(good))["x9.large"].vcpus == 4
    for name, text in [("bad.json", "{not json"), ("list.json", "[1, 2]"), ("entry.json", '{"a.b": 3}')]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ValueError, match=f"failed to read instance types file {re.escape(str(path))}: "):
            load_extra_file(path)
    with pytest.raises(ValueError, match="failed to read instance types file .*missing.json: "):
        load_extra_file(tmp_path / "missing.json")


def test_data_file_fields_mismatch(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"fields":["vcpus"],"types":{}}')
    with pytest.raises(ValueError, match="regenerate"):
        InstanceTypeCatalog.from_file(path)


def test_corpus_instance_types_are_known():
    if not CORPUS.is_dir():
        pytest.skip(f"no ParallelCluster corpus at {CORPUS}")
    names = corpus_instance_types()
    assert "t3.micro" in names and "c5n.18xlarge" in names
    assert sorted(n for n in names if n not in default_catalog()) == []


def test_data_file_is_generated(tmp_path):
    if importlib.util.find_spec("moto") is None:
        pytest.skip("moto is not installed")
    out = tmp_path / "instance_types.json"
    subprocess.run(
        [sys.executable, str(PROJECT / "tools" / "gen_instance_catalog.py"), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_text() == DATA_FILE.read_text(), "regenerate with tools/gen_instance_catalog.py"
