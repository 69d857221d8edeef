"""Library-wide promises of libs.routing and libs.rating: one exception root each, a
documented public surface, no I/O or framework imports."""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import pytest

import libs.rating
import libs.routing
from libs.rating import errors as rating_errors
from libs.routing import errors as routing_errors

LIBS = [
    (libs.rating, rating_errors, libs.rating.RatingError),
    (libs.routing, routing_errors, libs.routing.RoutingError),
]


@pytest.mark.parametrize(("package", "errors", "root"), LIBS)
def test_every_exception_derives_from_the_one_root(
    package: types.ModuleType, errors: types.ModuleType, root: type[Exception]
) -> None:
    ours = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if obj.__module__ == errors.__name__
    ]
    assert len(ours) == len(errors.__all__)
    for cls in ours:
        assert issubclass(cls, root), cls
        assert cls.__name__ in (errors.__doc__ or ""), cls
        assert cls is root or issubclass(cls, ValueError), cls


@pytest.mark.parametrize(("package", "errors", "root"), LIBS)
def test_public_surface_is_importable_and_documented(
    package: types.ModuleType, errors: types.ModuleType, root: type[Exception]
) -> None:
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, name
        if inspect.isclass(obj):
            for attribute, member in vars(obj).items():
                if inspect.isfunction(member) and not attribute.startswith("_"):
                    assert member.__doc__, f"{name}.{attribute}"


FORBIDDEN = {
    "asyncio",
    "socket",
    "nats",
    "sqlalchemy",
    "fastapi",
    "pydantic",
    "services",
    "time",
    "os",
}


@pytest.mark.parametrize("package", [libs.rating, libs.routing])
def test_the_libraries_are_pure(package: types.ModuleType) -> None:
    for source in Path(package.__file__ or "").parent.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{source.name} imports {name}"
