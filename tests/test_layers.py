"""The house rule: every import inside the package points down a layer (no cycles, no reaching up).

  core (structures, errors, config, labels, hardware, tensors, visualisation) < data, synthesis < models < training, evaluation < apps

Packages of the same layer never import each other (data and synthesis are independent; so are training and
evaluation). Read from the source with ast, so it holds for lazy imports inside functions too.
"""

import ast

from spine_synthseg.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "spine_synthseg"
LAYER = {"core": 0, "data": 1, "synthesis": 1, "models": 2, "training": 3, "evaluation": 3, "apps": 4}


def part_of(module: str) -> str:
    """'spine_synthseg.data.png_folder' -> 'data'; top-level modules are 'core' (predict.py is the apps CLI shim)."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return "apps" if parts[-1] == "predict" else "core"


def imports_of(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spine_synthseg"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("spine_synthseg")}
    return found


def test_every_import_points_down():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
        src = part_of(module)
        for imported in imports_of(path):
            dst = part_of(imported)
            if dst != src and LAYER[dst] >= LAYER[src]:
                wrong.append(f"{module} ({src}) imports {imported} ({dst})")
    assert not wrong, "\n".join(wrong)
