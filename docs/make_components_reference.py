"""Write docs/components.md, the reference of every component, from each component's SPEC.

Run after changing a component's SPEC (tests/test_docs.py checks that the file is up to date):

    python docs/make_components_reference.py
"""

import inspect
from pathlib import Path

from ngc_optim.components import NumpyComponent
from ngc_optim.components.ngclearn_paths import PATHS

from ngc_optim import components

OUT = Path(__file__).resolve().parent / "components.md"
ROLES = ("inputs", "state", "outputs")


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default(parameter):
    if parameter.default is inspect.Parameter.empty:
        return "required"
    return f"`{parameter.default!r}`"


def component_classes():
    """The exported components, in the order of their names."""
    return [getattr(components, name) for name in sorted(components.__all__)
            if isinstance(getattr(components, name), type) and issubclass(getattr(components, name), NumpyComponent)
            and getattr(components, name) is not NumpyComponent]


def ngclearn_path(cls):
    """ngc-learn's module path of the component (under ``ngclearn.components``), or None."""
    for package, modules in PATHS.items():
        for module, name in modules.items():
            if name == cls.__name__:
                return f"{package}.{module}"
    return None


def reference():
    """The Markdown text of docs/components.md."""
    lines = ["# Components reference", "",
             "Generated from each component's `SPEC` by `docs/make_components_reference.py`; `help()` of a component",
             "returns the same. Every component is imported from `ngc_optim.components` (and from ngc-learn's path,",
             "under `ngc_optim.components`, where it has one).", ""]
    classes = component_classes()
    lines += [", ".join(f"[{cls.__name__}](#{cls.__name__.lower()})" for cls in classes), ""]
    for cls in classes:
        spec = cls.SPEC
        lines += [f"## {cls.__name__}", "", _cell(spec["summary"]), ""]
        path = ngclearn_path(cls)
        if path:
            lines += [f"ngc-learn: `ngclearn.components.{path}` -> `ngc_optim.components.{path}`.", ""]
        lines += ["| compartment | role | |", "|---|---|---|"]
        for role in ROLES:
            for name, text in spec["compartments"].get(role, {}).items():
                lines.append(f"| `{name}` | {role} | {_cell(text)} |")
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
        lines += ["", "| argument | default | |", "|---|---|---|"]
        for parameter in parameters:
            lines.append(f"| `{parameter.name}` | {_cell(_default(parameter))} | "
                         f"{_cell(spec['arguments'].get(parameter.name, ''))} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(reference())
    print(f"wrote {OUT}")
