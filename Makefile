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
	$(PY) bench/bench_cluster.py --config examples/research.yaml --runs 3 \
	    --setup "s3 cp examples/scripts s3://research-site/bootstrap/" --setup "s3 cp examples/data s3://research-data/reference/"
	$(PY) bench/bench_cluster.py --config examples/accounting.yaml --runs 3 \
	    --setup "secrets put arn:aws:secretsmanager:us-east-1:123456789012:secret:slurmdb --value-file examples/bench-db-password" \
	    --teardown "databases delete slurmdb.example.internal:3306"
	$(PY) bench/bench_validate.py
	$(PY) bench/bench_components.py
	$(PY) bench/bench_image.py
	$(PY) bench/bench_elastic.py --runs 5 --bursts 64,256
	$(PY) bench/bench_awsapi.py
	$(PY) bench/bench_update.py
	$(PY) bench/bench_logs.py
	$(PY) bench/bench_api.py
	$(PY) bench/bench_aws_synth.py

# Regenerate the built-in EC2 instance type catalog from moto's data plus tools/instance_types_supplement.json.
catalog: deps
	$(PY) tools/gen_instance_catalog.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
