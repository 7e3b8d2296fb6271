"""FHIR search: parsing ``(name, value)`` pairs into a query and compiling it to SQL."""

from joinedup.store.search.query import SearchQuery, parse_search, parse_system_search

__all__ = ["SearchQuery", "parse_search", "parse_system_search"]
