# ParaCluster's two entry points: `make demo` and `make test` (each installs what it needs first).
VENV ?= .venv
PY := $(VENV)/bin/python
PARACLUSTER := $(VENV)/bin/paracluster

.PHONY: deps demo test bench catalog clean

deps:
	bash scripts/install-deps.sh $(VENV)

demo: deps
	bash scripts/demo.sh $(PARACLUSTER)

test: deps
	$(PY) -m pytest -q

bench: deps
	$(PY) bench/bench_cluster.py
	$(PY) bench/bench_validate.py

# Regenerate the built-in EC2 instance type catalog from moto's data plus tools/instance_types_supplement.json.
catalog: deps
	$(PY) tools/gen_instance_catalog.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
