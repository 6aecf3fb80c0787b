"""A griffe extension for the API reference: Ember's docstrings title their doctests
"Example:", which the Google parser takes for an admonition; as "Examples:" they render as code."""

import re

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    def on_package(self, *, pkg, **kwargs):
        stack = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
            stack.extend(m for m in obj.members.values() if not m.is_alias)
