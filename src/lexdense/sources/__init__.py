"""Where offline text comes from: the registry packages' datasets (``datasets``) and the
2026-12 sources of ``make data`` (``corpora``), for evaluation and for distillation.

Nothing here reads a user's files (that is :mod:`lexdense.io`) or downloads anything.
"""
