"""The store's tests run against each real database (``tests.databases``)."""

from tests.databases import database_url

__all__ = ["database_url"]
