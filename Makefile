# homodyne: `make run` (set up if needed, run the demo), `make report` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NLSQ := nlsq==0.7.6

# A Python >= 3.12: $$PYTHON if set, else python3.13 / python3.12 / python3 that actually run,
# else the newest pyenv version; otherwise stop with a clear message.
define FIND_PYTHON
ok() { "$$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }; \
if [ -n "$${PYTHON:-}" ]; then \
  ok "$$PYTHON" || { echo "PYTHON=$$PYTHON is not a working Python >= 3.12" >&2; exit 1; }; \
  echo "$$PYTHON"; exit 0; \
fi; \
for c in python3.13 python3.12 python3; do \
  if ok "$$c"; then command -v "$$c"; exit 0; fi; \
done; \
root=$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv"); \
for c in $$(ls -d "$$root"/versions/3.* 2>/dev/null | sort -rV); do \
  if ok "$$c/bin/python3"; then echo "$$c/bin/python3"; exit 0; fi; \
done; \
echo "No Python >= 3.12 found (tried \$$PYTHON, python3.13, python3.12, python3, pyenv versions)." >&2; \
echo "Install one (e.g. 'pyenv install 3.12') or run 'make setup PYTHON=/path/to/python3.12'." >&2; \
exit 1
endef
export FIND_PYTHON

.PHONY: help setup run report test test-faults lint fmt config-docs clean
help:
	@echo "make run          set up .venv if needed, then run the workflow on the built-in demo"
	@echo "make report       results/report.html: figures, tables, captions of the finished run"
	@echo "                  (with SNAKEMAKE_ARGS='--configfile my.yaml': results/report_my.html)"
	@echo "make test         set up .venv if needed, then run the test suite (without faults)"
	@echo "make test-faults  the fault catalogue: killed jobs, damaged files, full disk (slow)"
	@echo "make lint         ruff, snakefmt --check, snakemake --lint, config/README.md up to date"
	@echo "make fmt          snakefmt the Snakefile and workflow/rules"
	@echo "make config-docs  regenerate config/README.md from the config schema"
	@echo "(run and report take SNAKEMAKE_ARGS, e.g. SNAKEMAKE_ARGS='--configfile my.yaml')"

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	@set -e; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  rm -rf $(VENV); \
	  interp=$$(bash -c "$$FIND_PYTHON"); \
	  echo "Creating $(VENV) with $$interp ($$($$interp --version))"; \
	  "$$interp" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps $(NLSQ)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

# The workflow prints each dataset's verdict at the end of a run that did something; the
# last lines repeat it for every dataset of results/, also after "Nothing to be done".
run: $(STAMP)
	$(VENV)/bin/snakemake --profile profiles/local $(SNAKEMAKE_ARGS)
	@echo
	@$(PY) -m homodyne.verdicts --results results
	@echo "Results: results/<dataset>/ (nlsq/, cmc/, twotime/, analysis_summary.json)"
	@echo "Figures: results/<dataset>/plots/   Logs: logs/<dataset>/   Report: make report"

# Snakemake's self-contained HTML report of the finished run: results/report.html for the demo,
# results/report_<config>.html for SNAKEMAKE_ARGS='--configfile <config>.yaml' (so another
# config's report never overwrites the demo's; homodyne.layout.report). Written beside and then
# renamed, so an interrupted report never looks finished.
REPORT = $(shell $(PY) -m homodyne.layout report $(SNAKEMAKE_ARGS))
REPORT_TMP = $(dir $(REPORT)).$(basename $(notdir $(REPORT))).tmp.html
report: $(STAMP)
	@mkdir -p results
	$(VENV)/bin/snakemake --profile profiles/local $(SNAKEMAKE_ARGS) --report $(REPORT_TMP)
	@mv -f $(REPORT_TMP) $(REPORT)
	@echo "Report: $(REPORT) (open it in a browser)"

# The default run leaves out the fault catalogue (tests marked `faults`: every rule's job
# killed, signals to a run, a failed shard rerun, damaged files, the Slurm and PBS profiles'
# runs; about 20 minutes), which CI runs as well (.ci/run).
test: $(STAMP)
	$(PY) -m pytest -q -m "not faults" $(PYTEST_ARGS)

test-faults: $(STAMP)
	$(PY) -m pytest -q -m faults $(PYTEST_ARGS)

SNAKEFILES := Snakefile workflow/rules/

lint: $(STAMP)
	$(VENV)/bin/ruff check homodyne tests benchmarks workflow/scripts
	$(VENV)/bin/snakefmt --check $(SNAKEFILES)
	$(VENV)/bin/snakemake --lint -s Snakefile --directory .
	$(PY) -m homodyne.configdocs --check

fmt: $(STAMP)
	$(VENV)/bin/snakefmt $(SNAKEFILES)

config-docs: $(STAMP)
	$(PY) -m homodyne.configdocs

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
