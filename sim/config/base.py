"""Shared pieces of the scenario models: strict base class, constrained types, database names."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.catalogue import DATABASES  # the names live with the message keys; re-exported

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]


def check_names(names, known: tuple[str, ...], what: str, weights: bool = False):
    """Every name must be known; as a mix of weights (a dict), at least one must be > 0."""
    unknown = sorted(set(names) - set(known), key=str)
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r}; known: {', '.join(known)}")
    if weights and names and sum(names.values()) <= 0:
        raise ValueError(f"at least one {what} weight must be > 0")
    return names


def check_database_names(names) -> None:
    """Every name must be one of the eight CLETS databases."""
    check_names(names, DATABASES, "database")


def merge_into_default(default: BaseModel, given: dict) -> dict:
    """`given` laid over the fields of `default`, recursing into sub-models.

    So a scenario can write ``misuse: {mass_rule: {incidents_per_year: 2}}`` and keep the
    rest of that archetype's defaults. Mappings and lists that are values (mixes, fault
    lists) are replaced, not merged; unknown keys pass through and are reported.
    """
    out = default.model_dump()
    for key, value in given.items():
        current = getattr(default, key, None) if key in type(default).model_fields else None
        if isinstance(value, dict) and isinstance(current, BaseModel):
            out[key] = merge_into_default(current, value)
        else:
            out[key] = value
    return out


class Strict(BaseModel):
    """Base: unknown keys are errors, values are validated on assignment too, and a section
    given in part keeps the defaults of what it does not mention."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _partial_sections_keep_defaults(cls, data):
        if not isinstance(data, dict):
            return data
        _refuse_bools_and_non_finite(cls, data)
        out = dict(data)
        for name, field in cls.model_fields.items():
            value = out.get(name)
            if isinstance(value, dict) and not field.is_required():
                default = field.get_default(call_default_factory=True)
                if isinstance(default, BaseModel):
                    out[name] = merge_into_default(default, value)
        return out


def assumed(default, description: str, source: str = "assumption", low=None, high=None, **kw):
    """A model parameter that declares where its value comes from and its plausible range.

    The source and range are kept as field metadata (``json_schema_extra``) so one function
    can list every assumption of a scenario; the description shows them to a reader too.
    """
    extra = {"source": source}
    if low is not None:
        extra["range"] = [low, high]
    shown = f"{description} [{source}" + (f"; plausible {low}-{high}]" if low is not None else "]")
    if "default_factory" in kw:
        return Field(description=shown, json_schema_extra=extra, **kw)
    return Field(default, description=shown, json_schema_extra=extra, **kw)


def _is_model(annotation) -> bool:
    """True when the annotation holds models anywhere (a section, a list or dict of them, a
    union of fault kinds): their own fields are checked, and named, by their own model."""
    import typing

    stack, seen = [annotation], 0
    while stack and seen < 100:
        a = stack.pop()
        seen += 1
        if isinstance(a, type) and issubclass(a, BaseModel):
            return True
        stack.extend(typing.get_args(a))
    return False


def _numeric_only(annotation) -> bool:
    """True when a field holds numbers (possibly in lists or dicts) and never a boolean."""
    text = repr(annotation)
    return "bool" not in text and ("int" in text or "float" in text or "Probability" in text)


def _bad_number(value):
    """(where, value) of the first boolean or non-finite float inside `value` (lists and dict
    values; `where` is the dotted path below the field, '' for the field itself), or None."""
    stack = [("", value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, bool):
            return where, v
        if isinstance(v, float) and not math.isfinite(v):
            return where, v
        if isinstance(v, (list, tuple)):
            stack.extend((f"{where}.{i}", x) for i, x in enumerate(v[:1000]))
        elif isinstance(v, dict):
            stack.extend((f"{where}.{k}", x) for k, x in list(v.items())[:1000])
    return None


FIELD_MARK = "field "  # the error names a field of the section it is reported on


def _refuse_bools_and_non_finite(cls, data: dict) -> None:
    """YAML `true` is not a number, and `.inf`/`.nan` are never a setting: pydantic would take
    `true` as 1 and let infinities through to numpy, so both are refused here, by field."""
    for name, field in cls.model_fields.items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, dict) and isinstance(field.default, BaseModel) or _is_model(field.annotation):
            continue  # a section: its own fields are checked by its own model
        found = _bad_number(value)
        if found is None:
            continue
        where, bad = found
        where = name + (where if len(where) <= 120 else where[:117] + "...")
        if isinstance(bad, bool):
            if _numeric_only(field.annotation):
                raise ValueError(f"{FIELD_MARK}{where} = {bad!r}: a boolean is not a number")
        elif not math.isfinite(bad):
            raise ValueError(f"{FIELD_MARK}{where} = {bad!r}: must be a finite number")
