# vosbench: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_CONFIG := configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py
DEMO_WORK_DIR := work_dirs/demo
DEMO_DATA := data/synthetic

.PHONY: install demo demo-data demo-train demo-test test clean-demo

$(VENV)/.installed: setup.py requirements/runtime.txt requirements/tests.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c requirements/constraints.txt -r requirements.txt
	$(PIP) install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo-data: install
	$(PY) tools/data/make_synthetic.py --out $(DEMO_DATA)

demo-train: demo-data
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) --resume

demo-test: demo-train
	$(PY) tools/test.py $(DEMO_CONFIG) $$(cat $(DEMO_WORK_DIR)/last_checkpoint) \
		--work-dir $(DEMO_WORK_DIR) --out $(DEMO_WORK_DIR)/predictions --overwrite \
		--show-dir $(DEMO_WORK_DIR)/overlays --show-interval 5

# set up, make the synthetic data, train the small STM on CPU, test it,
# print the J&F table and write overlays to work_dirs/demo/overlays
demo: demo-test

test: install
	$(PY) -m pytest tests -q

clean-demo:
	rm -rf $(DEMO_WORK_DIR) $(DEMO_DATA)
