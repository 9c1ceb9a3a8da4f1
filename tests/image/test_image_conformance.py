"""The image plugin passes modalax's conformance kit, as any third-party plugin must."""

from modalax.testing import conformance_tests

test_conformance = conformance_tests("image")
