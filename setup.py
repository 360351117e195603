"""Setuptools shim for Beam's `--setup_file ./setup.py`; all metadata lives in pyproject.toml.

Dataflow (and Flink/Spark portable) workers install the package from an sdist that Beam builds
at submission time with `python -m build --sdist --no-isolation` or, when the `build` module is
absent, `python setup.py sdist` (apache_beam/runners/portability/stager.py). This file makes the
second path work; it adds nothing to what pyproject.toml declares.
"""

from setuptools import setup

setup()
