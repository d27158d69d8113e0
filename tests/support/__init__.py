"""What the tests and bench/ share: harness, clients and helpers, no test and no fixture.

Kept free of imports: uWSGI imports tests.support.slow_start in the installed service's
workers, which have none of the test dependencies.
"""
