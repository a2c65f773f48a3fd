"""Shared pytest configuration: sandbox fixtures (sandbox_fleet) come from remediate.sandbox.testing."""

pytest_plugins = ["remediate.sandbox.testing"]
