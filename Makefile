# Two entry points; each sets up .venv on first use (scripts/setup_env.sh is idempotent).
PY := .venv/bin/python

.PHONY: setup test demo clean-demo

setup:
	bash scripts/setup_env.sh

test: setup
	bash scripts/run_tests.sh

demo: setup
	bash scripts/demo.sh

clean-demo:
	rm -rf data/synthetic work_dirs/demo demo_out
