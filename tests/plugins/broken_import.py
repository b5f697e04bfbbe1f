"""A test plugin that cannot be imported."""

import mayak_dependency_that_is_not_installed  # noqa: F401
