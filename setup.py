"""Shim for Beam's `--setup_file`: Dataflow stages polymix as an sdist built from pyproject.toml."""

from setuptools import setup

setup()
