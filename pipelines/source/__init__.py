"""The CADT source: HTTP client and the declarative table catalogues."""
