# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs through constraints.txt (the tested versions):
# the pinned torch first, so no range in pyproject.toml pulls another (possibly multi-GB CUDA)
# build, then the package with its extras. The core install alone (`pip install .`) runs the
# Beam jobs, which is what Dataflow workers get through --setup_file (docs/dataflow.md);
# `make core` checks it in a venv of its own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALL = -m pip install --quiet -c constraints.txt
# The pinned torch. Where pip's index serves CUDA builds by default, ask for the CPU one:
#   make demo TORCH='torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu'
TORCH ?= torch==2.13.0
CORE_VENV := .venv-core

.PHONY: demo test core venv clean

venv: $(VENV)/.installed-demo

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

# demo: the whole flow (the tokenizer and train extras) and `shardlm report`
$(VENV)/.installed-demo: pyproject.toml constraints.txt $(VENV)/.created
	$(PY) $(INSTALL) $(TORCH)
	$(PY) $(INSTALL) -e '.[tokenizer,train,report]'
	touch $@

# test: everything, and the test tools
$(VENV)/.installed-test: $(VENV)/.installed-demo
	$(PY) $(INSTALL) -e '.[tokenizer,train,report,test]'
	touch $@

demo: $(VENV)/.installed-demo
	$(VENV)/bin/shardlm demo --workdir build/demo

test: $(VENV)/.installed-test
	$(PY) -m pytest -q -p no:cacheprovider

# The core install (no torch, transformers or webdataset) in its own venv: the Beam jobs import
# from the installed package (run outside the checkout), and the extras' libraries are absent.
core:
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python $(INSTALL) .
	cd $(CORE_VENV) && bin/python -c "import pipelines.clean.job, pipelines.build.job, shardlm.schema; \
	    from importlib.util import find_spec; \
	    extra = [m for m in ('torch', 'transformers', 'webdataset') if find_spec(m)]; \
	    assert not extra, f'the core install pulled {extra}'; print('core install: Beam jobs import, no torch')"

clean:
	rm -rf build $(VENV) $(CORE_VENV)
