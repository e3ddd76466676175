"""Benchmarks run by `make bench` and `streambot bench`: they print figures and assert nothing about time.

They live beside the package, not in it: the installed platform does not ship them.
"""
