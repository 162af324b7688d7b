"""`make bench` runs every benchmark in bench/."""

from __future__ import annotations

from support import PROJECT


def test_make_bench_runs_every_benchmark():
    makefile = (PROJECT / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    scripts = {path.name for path in (PROJECT / "bench").glob("bench_*.py")}
    assert scripts and {name for name in scripts if f"bench/{name}" not in recipe} == set()
