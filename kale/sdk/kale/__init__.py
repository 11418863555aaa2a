"""Kale: write plain Python, run it as a pipeline (see kale.sdk)."""
