"""Kernels: conv."""
