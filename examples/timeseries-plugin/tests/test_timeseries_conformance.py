"""The example plugin passes modalax's conformance kit, as any published plugin must."""

from modalax.testing import conformance_tests

test_conformance = conformance_tests("timeseries")
