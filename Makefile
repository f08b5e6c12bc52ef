# vosbench: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_CONFIG := configs/stm/stm_r18-tiny_1xb4-700iter_synthetic.py
DEMO_WORK_DIR := work_dirs/demo
DEMO_DATA := data/synthetic

.PHONY: install demo demo-data demo-train demo-test demo-davis16 test clean-demo

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

# real video: train the small STM on DAVIS 2016 train (240p, made from the
# 480p download when missing) with and without static pre-training, and
# print J&F on val beside copying the first mask and the synthetic demo
# model (README, "Real video"). DAVIS16 is the folder of the download.
# On a CPU with AMX the stages train in bf16 (recipe_davis16.py --amp auto).
DAVIS16 ?= data/DAVIS2016
demo-davis16: install
	@test -d $(DAVIS16)/ImageSets || { echo "DAVIS16=$(DAVIS16): no DAVIS 2016 folder there (make demo-davis16 DAVIS16=/path/to/DAVIS)"; exit 1; }
	test -d $(DAVIS16)/ImageSets/240p || $(PY) tools/data/resize_davis2016.py $(DAVIS16)
	$(PY) tools/analysis/recipe_davis16.py --davis16 $(DAVIS16) --resolution 240p

test: install
	$(PY) -m pytest tests -q

clean-demo:
	rm -rf $(DEMO_WORK_DIR) $(DEMO_DATA)
