"""Kernels: quantize."""
