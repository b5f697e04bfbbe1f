"""Test support for Mayak and its plugins: ``pytest_plugins = ["core.testing.fixtures"]`` in a conftest.py."""
