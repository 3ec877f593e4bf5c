"""A test-only integration package, named in EXTRA_INTEGRATIONS under pytest.

It shows that a new integration is one package: nothing in the product names it.
"""
