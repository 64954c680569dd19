"""Loading a spec directory (``specs/<name>/``: ``spec.py``, ``mapping.yaml``, README,
samples). I/O layer: imports the spec module from its file and reads the mapping.

Errors are ``ConfigError``/``SpecDefinitionError`` naming the file and what to fix.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ConfigError, SpecDefinitionError
from monitor.mapping import Mapping, load_mapping
from monitor.spec import Spec, SpecModel, model_of

__all__ = ["SpecDir", "find_spec_class", "load_spec_class", "load_specdir"]


@dataclass(frozen=True, slots=True)
class SpecDir:
    name: str  # the directory name: the ``spec`` label in metrics and reports
    path: Path
    model: SpecModel
    mapping: Mapping


def load_specdir(path: str | Path) -> SpecDir:
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory; a spec directory holds spec.py and mapping.yaml")
    mapping_file = root / "mapping.yaml"
    if not mapping_file.is_file():
        raise ConfigError(f"{mapping_file}: missing; a spec directory needs a mapping.yaml")
    text = mapping_file.read_text(encoding="utf-8")
    # the mapping may name the class; read that first without the model
    wanted = _peek_spec_class(text)
    cls = load_spec_class(root / "spec.py", wanted)
    model = model_of(cls)
    mapping = load_mapping(text, filename=str(mapping_file), model=model)
    return SpecDir(name=root.resolve().name, path=root, model=model, mapping=mapping)


def _peek_spec_class(text: str) -> str | None:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None  # load_mapping reports it with the line number
    value = doc.get("spec") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def load_spec_class(spec_file: Path, wanted: str | None = None) -> type[Spec]:
    if not spec_file.is_file():
        raise ConfigError(f"{spec_file}: missing; a spec directory needs a spec.py with a Spec class")
    module_name = f"specmon_spec_{abs(hash(str(spec_file.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, spec_file)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"{spec_file}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except SpecDefinitionError as exc:
        raise SpecDefinitionError(f"{spec_file}: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"{spec_file}: importing it raised {type(exc).__name__}: {exc}") from exc
    found = {
        name: obj for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, Spec) and obj is not Spec
        and obj.__module__ == module_name
    }
    if wanted is not None:
        if wanted not in found:
            raise ConfigError(
                f"{spec_file}: no Spec class named {wanted!r} (mapping.yaml `spec:` or --spec); "
                f"found: {', '.join(sorted(found)) or 'none'}"
            )
        return found[wanted]
    if len(found) != 1:
        raise ConfigError(
            f"{spec_file}: expected exactly one Spec subclass, found "
            f"{', '.join(sorted(found)) or 'none'}; name one with `spec: ClassName` in mapping.yaml "
            "(or --spec ClassName)"
        )
    return next(iter(found.values()))


def find_spec_class(path: str | Path, wanted: str | None = None) -> type[Spec]:
    """The spec class of a spec directory (or of a ``spec.py`` file) without loading the
    mapping: ``wanted`` by name, else the one named by ``spec:`` in ``mapping.yaml`` if
    there is one, else the only Spec class in ``spec.py``. For commands that use the
    spec alone (``check``)."""
    root = Path(path)
    if root.is_file():
        return load_spec_class(root, wanted)
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory; a spec directory holds spec.py and mapping.yaml")
    mapping_file = root / "mapping.yaml"
    if wanted is None and mapping_file.is_file():
        wanted = _peek_spec_class(mapping_file.read_text(encoding="utf-8"))
    return load_spec_class(root / "spec.py", wanted)
