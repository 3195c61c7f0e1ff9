# One-command entry points. Needs only python3.11 on PATH and access to the package registry.
PYTHON ?= python3.11
VENV   := .venv
UV     := $(VENV)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install install-dev demo test dev bench clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"

# --compile-bytecode: byte-compiled once at install, so that no process start (each dbt run,
# each CLI call) compiles its imports again where PYTHONDONTWRITEBYTECODE is set (~2 s for dbt)
install: $(UV)  ## create .venv from the lock file (uv.lock); --inexact keeps uv itself
	$(UV) sync --frozen --quiet --inexact --compile-bytecode

demo: install  ## simulator -> full sync -> dbt build -> summary (no internet), only in data/demo/
	$(VENV)/bin/cadt-mirror demo

install-dev: $(UV)  ## .venv with the bench and bi extras too (the tests run dlt and docs/bi.md)
	$(UV) sync --frozen --quiet --inexact --compile-bytecode --extra bench --extra bi

test: install-dev  ## the whole test suite (what CI runs); installs Chromium for the report test
	sh scripts/ensure_chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n 2 --dist loadgroup -q

dev: install  ## Dagster UI on http://127.0.0.1:3000, and the daemon (sensor, schedule, automation)
	export DAGSTER_HOME=$${DAGSTER_HOME:-$$PWD/.dagster_home} ; mkdir -p $$DAGSTER_HOME ; \
	[ -f $$DAGSTER_HOME/dagster.yaml ] || cp pipelines/defs/dagster.yaml $$DAGSTER_HOME/ ; \
	$(VENV)/bin/dagster-daemon run -w workspace.yaml & daemon=$$! ; \
	trap 'kill $$daemon 2>/dev/null' EXIT INT TERM ; \
	$(VENV)/bin/dagster-webserver -w workspace.yaml -h 127.0.0.1 -p 3000

bench: install-dev  ## benchmarks (writes docs/benchmarks.md)
	$(VENV)/bin/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache dbt_project/target dbt_project/logs
