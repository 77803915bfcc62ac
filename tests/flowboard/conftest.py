from tests.registration.conftest import signed_in  # noqa: F401
from tests.scheduling.conftest import world  # noqa: F401
