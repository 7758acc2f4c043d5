"""Kernels: normalization."""
