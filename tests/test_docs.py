"""The documentation stays true: the components reference is generated from the SPECs in the code, and every
relative link of README.md and docs/ resolves."""

import importlib.util
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _generator():
    spec = importlib.util.spec_from_file_location("make_components_reference",
                                                  ROOT / "docs" / "make_components_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_components_reference_is_generated_from_the_specs():
    generated = _generator().reference()
    assert (ROOT / "docs" / "components.md").read_text() == generated, \
        "docs/components.md is out of date: run python docs/make_components_reference.py"


def test_every_argument_of_a_component_is_described():
    generator = _generator()
    missing = {}
    for cls in generator.component_classes():
        names = [name for name in list(inspect.signature(cls.__init__).parameters)[1:] if name != "name"]
        absent = [name for name in names if name not in cls.SPEC["arguments"]]
        if absent:
            missing[cls.__name__] = absent
    assert missing == {}


def _links(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_every_relative_link_resolves(page):
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md":
            headings = {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip()).lower().replace(" ", "-")
                        for line in path.read_text().splitlines() if line.startswith("#")}
            if anchor not in headings:
                broken.append(link)
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _links(ROOT / "README.md")}
    assert [page.name for page in PAGES[1:] if page.resolve() not in linked] == []


def test_the_models_defaults_table_is_the_classes_defaults():
    import json

    from ngc_optim.models import PCN, DiehlCookSNN, GenerativePCN

    classes = {cls.__name__: cls for cls in (PCN, GenerativePCN, DiehlCookSNN)}
    rows = re.findall(r"^\| (\w+) \| (`\w+`|epochs \(`EPOCHS`\)) \| `(.*)` \|$", (ROOT / "docs" / "models.md").read_text(),
                      flags=re.MULTILINE)
    table = {(model, argument.strip("`")): json.loads(value) for model, argument, value in rows}
    expected = {(name, key): value for name, cls in classes.items() for key, value in cls.defaults().items()}
    expected.update({(name, "epochs (`EPOCHS`)"): cls.EPOCHS for name, cls in classes.items()})
    assert table == expected
