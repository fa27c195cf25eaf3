"""Beam stages. Importing any of them registers the element coders first."""

from polymix.pipelines import element_coders as _element_coders  # noqa: F401
