"""Docs generated from the catalogue stay true to it."""

from pipelines.warehouse.contract_doc import DOC, render


def test_warehouse_contract_doc_is_up_to_date():
    assert DOC.read_text() == render(), "run: python -m pipelines.warehouse.contract_doc"
