from tests.registration.conftest import signed_in  # noqa: F401
