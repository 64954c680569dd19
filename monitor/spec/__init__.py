"""The spec language (pure): a spec is a Python class whose annotated fields are the
state of one instance and whose ``@action`` methods are its steps."""

from monitor.spec.duration import parse_duration
from monitor.spec.language import Spec, action, choose, invariant, require, within
from monitor.spec.model import ActionInfo, SpecBug, SpecModel, Step, WithinInfo, model_of

__all__ = [
    "ActionInfo",
    "Spec",
    "SpecBug",
    "SpecModel",
    "Step",
    "WithinInfo",
    "action",
    "choose",
    "invariant",
    "model_of",
    "parse_duration",
    "require",
    "within",
]
