# Two commands do all set-up on a fresh machine: `make benchmark` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STUDY  ?= quick

.PHONY: benchmark test test-all venv browser clean bench-report bench-nn bench-fit bench-orchestration \
        bench-calibration

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

benchmark: $(STAMP)
	$(PY) -m benchmark run $(STUDY)

# Headless Chromium (Debian's package) for the report's browser test; skipped if apt is unavailable.
browser:
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) ) || \
	  echo "note: chromium could not be installed; the browser test will be skipped"

test: $(STAMP) browser
	$(PY) -m pytest -m "not slow" -q

test-all: $(STAMP) browser
	$(PY) -m pytest -q

bench-nn: $(STAMP)
	$(PY) scripts/bench_nn.py
	$(PY) scripts/bench_nn_learners.py

bench-fit: $(STAMP)
	$(PY) scripts/bench_fit.py

bench-orchestration: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) scripts/bench_orchestration.py

# Simulations whose truth is known: the verdict rule's false positives, selection bias and power,
# and the shuffled-label controls' false-alarm rate on clean small data.
bench-calibration: $(STAMP)
	$(PY) scripts/bench_calibration.py
	$(PY) scripts/bench_controls.py

bench-report: $(STAMP)
	$(PY) scripts/bench_report.py reports/$(STUDY)

clean:
	rm -rf $(VENV) .pytest_cache
