"""Protobuf message schemas declared in Python, so foreign formats parse without their tools.

A schema is a ``FileDescriptorProto`` built in code (field names and numbers copied
from the framework's ``.proto``), added to a private ``DescriptorPool`` and turned into
message classes with ``message_factory``. Text (``text_format``) and binary parsing then
work with nothing but the protobuf runtime onnx already depends on::

    f = FileSchema("demo.proto", "demo", syntax="proto2")
    f.message("Point", [field("x", 1, "int32"), field("tags", 2, "string", repeated=True)])
    Point = f.build()["Point"]
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, Sequence

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["FileSchema", "field", "Field"]

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _FDP.TYPE_DOUBLE, "float": _FDP.TYPE_FLOAT, "int64": _FDP.TYPE_INT64,
    "uint64": _FDP.TYPE_UINT64, "int32": _FDP.TYPE_INT32, "uint32": _FDP.TYPE_UINT32,
    "bool": _FDP.TYPE_BOOL, "string": _FDP.TYPE_STRING, "bytes": _FDP.TYPE_BYTES,
}


@dataclass
class Field:
    """One field: a scalar type name, or ``"msg:Name"`` / ``"enum:Name"`` (package-relative)."""

    name: str
    number: int
    type: str
    repeated: bool = False
    default: str | None = None
    packed: bool | None = None
    oneof: int | None = None
    map_of: tuple[str, str] | None = None  # (key type, value type) for map fields


def field(name: str, number: int, type: str, repeated: bool = False, default: Any = None,
          packed: bool | None = None, oneof: int | None = None) -> Field:
    """A field declaration (``default`` as proto text, e.g. ``"true"``, ``"MAX"``, ``"1e-05"``)."""
    if isinstance(default, bool):
        default = "true" if default else "false"
    return Field(name, number, type, repeated, None if default is None else str(default), packed, oneof)


def map_field(name: str, number: int, key: str, value: str) -> Field:
    """A ``map<key, value>`` field."""
    return Field(name, number, "map", repeated=True, map_of=(key, value))


@dataclass
class _Message:
    name: str
    fields: list[Field]
    enums: dict[str, list[tuple[str, int]]] = dc_field(default_factory=dict)
    oneofs: list[str] = dc_field(default_factory=list)
    nested: list["_Message"] = dc_field(default_factory=list)


class FileSchema:
    """Collects messages and enums of one ``.proto`` file and builds their classes."""

    def __init__(self, filename: str, package: str, syntax: str = "proto2"):
        self.filename = filename
        self.package = package
        self.syntax = syntax
        self._messages: list[_Message] = []
        self._enums: dict[str, list[tuple[str, int]]] = {}

    def enum(self, name: str, values: Sequence[tuple[str, int]]) -> None:
        self._enums[name] = list(values)

    def message(self, name: str, fields: Sequence[Field], enums: dict[str, list[tuple[str, int]]] | None = None,
                oneofs: Sequence[str] = ()) -> None:
        """Declare message ``name``; nested enums are referenced as ``enum:Name.Enum``."""
        self._messages.append(_Message(name, list(fields), dict(enums or {}), list(oneofs)))

    # ----------------------------------------------------------------- build
    def _type_name(self, ref: str) -> str:
        return f".{self.package}.{ref}"

    def _field_proto(self, owner: descriptor_pb2.DescriptorProto, f: Field, owner_path: str = "") -> None:
        fp = owner.field.add(name=f.name, number=f.number)
        fp.label = _FDP.LABEL_REPEATED if f.repeated else _FDP.LABEL_OPTIONAL
        if f.map_of is not None:
            entry = owner.nested_type.add(name=_map_entry_name(f.name))
            entry.options.map_entry = True
            key, value = f.map_of
            self._field_proto(entry, Field("key", 1, key))
            self._field_proto(entry, Field("value", 2, value))
            fp.type = _FDP.TYPE_MESSAGE
            fp.type_name = f"{self._type_name(owner_path or owner.name)}.{entry.name}"
            return
        if f.type in _SCALARS:
            fp.type = _SCALARS[f.type]
        elif f.type.startswith("msg:"):
            fp.type = _FDP.TYPE_MESSAGE
            fp.type_name = self._type_name(f.type[4:])
        elif f.type.startswith("enum:"):
            fp.type = _FDP.TYPE_ENUM
            fp.type_name = self._type_name(f.type[5:])
        else:
            raise ValueError(f"unknown field type {f.type!r}")
        if f.default is not None:
            fp.default_value = f.default
        if f.packed is not None:
            fp.options.packed = f.packed
        if f.oneof is not None:
            fp.oneof_index = f.oneof

    def file_proto(self) -> descriptor_pb2.FileDescriptorProto:
        fdp = descriptor_pb2.FileDescriptorProto(name=self.filename, package=self.package, syntax=self.syntax)
        for name, values in self._enums.items():
            e = fdp.enum_type.add(name=name)
            for vname, num in values:
                e.value.add(name=vname, number=num)
        protos: dict[str, descriptor_pb2.DescriptorProto] = {}
        for m in sorted(self._messages, key=lambda m: m.name.count(".")):
            parent, _, short = m.name.rpartition(".")
            protos[m.name] = (protos[parent].nested_type if parent else fdp.message_type).add(name=short)
        for m in self._messages:
            dp = protos[m.name]
            for ename, values in m.enums.items():
                e = dp.enum_type.add(name=ename)
                for vname, num in values:
                    e.value.add(name=vname, number=num)
            for o in m.oneofs:
                dp.oneof_decl.add(name=o)
            for f in m.fields:
                self._field_proto(dp, f, m.name)
        return fdp

    def build(self) -> dict[str, type]:
        """Message classes by (package-relative) name, from a private descriptor pool."""
        pool = descriptor_pool.DescriptorPool()
        pool.Add(self.file_proto())
        return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{self.package}.{m.name}"))
                for m in self._messages}


def _map_entry_name(field_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in field_name.split("_")) + "Entry"
