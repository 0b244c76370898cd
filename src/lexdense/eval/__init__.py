"""Evaluation of embedders on offline tasks."""
