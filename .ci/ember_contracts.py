"""Import-linter contract types of our own, loaded by `make lint` (PYTHONPATH=.ci lint-imports).

import-linter's wildcards replace whole module names, so "no module whose name starts with an
underscore" cannot be written as a `forbidden` contract; this contract says it directly.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.helpers import module_expressions_to_modules


def _is_private(module: str, package: str) -> bool:
    """Whether ``module`` lies in ``package`` and has a private part (``_x``, not ``__x__``)."""
    parts = module.split(".")
    if parts[0] != package:
        return False
    return any(part.startswith("_") and not part.endswith("__") for part in parts[1:])


class PublicApiContract(Contract):
    """Source modules may import only public modules of ``package`` (direct imports).

    Options:
        source_modules: the importing packages (descendants included).
        package: the package whose private modules are off limits.
    """

    type_name = "public_api"

    source_modules = fields.SetField(subfield=fields.ModuleExpressionField())
    package = fields.StringField()

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        package = str(self.package)
        sources = module_expressions_to_modules(graph, self.source_modules, as_packages=True)
        importers = set()
        for source in sources:
            importers |= {source.name} | graph.find_descendants(source.name)
        violations = []
        for importer in sorted(importers):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if _is_private(imported, package):
                    details = graph.get_import_details(importer=importer, imported=imported)
                    lines = tuple(detail["line_number"] for detail in details)
                    violations.append((importer, imported, lines))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["violations"]:
            where = ", ".join(f"l.{line}" for line in lines)
            output.print_error(f"{importer} imports private module {imported} ({where})")
            output.new_line()
