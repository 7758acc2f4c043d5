"""Kernels: recurrent."""
