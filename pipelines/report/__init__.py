"""The static HTML report of a published snapshot: charts of the marts and each organization's
freshness, in one file that opens without a network (`publish` writes it beside every snapshot;
`cadt-mirror report` writes it again)."""

from pipelines.report.page import render, write_report

__all__ = ["render", "write_report"]
