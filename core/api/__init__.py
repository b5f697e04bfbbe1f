"""The JSON API (``/api/v1``): token authentication and the OpenAPI document. Filled in by the domain issues."""
