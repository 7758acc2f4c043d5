"""Kernels: control_flow."""
