"""Generate ParaCluster's built-in instance type catalog from moto's EC2 data plus a committed supplement."""

# Usage: python tools/gen_instance_catalog.py [--moto-data instance_types.json.gz]
#            [--supplement tools/instance_types_supplement.json] [--output src/paracluster/catalog/instance_types.json]
# With no arguments it reads the installed moto's data and rewrites the committed catalog; the output is sorted,
# so running it twice gives the same file.

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a plain script from a checkout, so the package under src/ may not be installed.
sys.path.insert(0, str(ROOT / "src"))

from paracluster.catalog import dumps_catalog, from_describe, load_extra_file  # noqa: E402

DEFAULT_SUPPLEMENT = ROOT / "tools" / "instance_types_supplement.json"
DEFAULT_OUTPUT = ROOT / "src" / "paracluster" / "catalog" / "instance_types.json"


def moto_data_path() -> Path:
    # find_spec locates moto without importing it (importing moto pulls in boto3 and much more).
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("moto is not installed: pass --moto-data PATH to its ec2/resources/instance_types.json.gz")
    return Path(next(iter(spec.submodule_search_locations))) / "ec2" / "resources" / "instance_types.json.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--moto-data", type=Path, help="moto's ec2/resources/instance_types.json.gz")
    parser.add_argument("--supplement", type=Path, default=DEFAULT_SUPPLEMENT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with gzip.open(args.moto_data or moto_data_path(), "rt", encoding="utf-8") as f:
        entries = json.load(f)
    supplement = load_extra_file(args.supplement)
    # The supplement wins over moto, so it can also correct a type moto gets wrong.
    entries.update(supplement)
    types = [from_describe({**entry, "InstanceType": name}) for name, entry in entries.items()]
    args.output.write_text(dumps_catalog(types), encoding="utf-8")
    print(f"wrote {len(types)} instance types ({len(supplement)} from the supplement) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
