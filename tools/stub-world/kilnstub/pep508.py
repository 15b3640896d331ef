"""PEP 508 requirements and environment markers, stdlib only.

Markers are evaluated for the interpreter the stub images pretend to have:
CPython 3.12.3 on Linux x86_64 (Ubuntu 24.04's python3)."""

from __future__ import annotations

import re

from .pep440 import InvalidVersion, Specifier, SpecifierSet, Version

ENVIRONMENT = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.3",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.12.3",
    "python_version": "3.12",
    "sys_platform": "linux",
}


def canonical(name: str) -> str:
    """PEP 503 normalized name: `Opencv_Python.Headless` -> `opencv-python-headless`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def underscored(name: str) -> str:
    """Wheel/dist-info file name form: `opencv_python_headless`."""
    return re.sub(r"[-_.]+", "_", name).lower()


class InvalidRequirement(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'[^']*'|"[^"]*")
    | (?P<op>===|==|!=|<=|>=|~=|<|>|\bnot\s+in\b|\bin\b)
    | (?P<paren>[()])
    | (?P<kw>\band\b|\bor\b)
    | (?P<var>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


class Marker:
    def __init__(self, text: str) -> None:
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise InvalidRequirement(f"Invalid marker: {text!r}")
            kind = m.lastgroup
            value = m[kind]
            if kind == "op":
                value = re.sub(r"\s+", " ", value)
            self.tokens.append((kind, value))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self._i = 0
        self.tree = self._or()
        if self._i != len(self.tokens):
            raise InvalidRequirement(f"Invalid marker: {text!r}")

    # recursive descent: or -> and -> atom
    def _peek(self):
        return self.tokens[self._i] if self._i < len(self.tokens) else (None, None)

    def _or(self):
        left = self._and()
        while self._peek() == ("kw", "or"):
            self._i += 1
            left = ("or", left, self._and())
        return left

    def _and(self):
        left = self._atom()
        while self._peek() == ("kw", "and"):
            self._i += 1
            left = ("and", left, self._atom())
        return left

    def _atom(self):
        kind, value = self._peek()
        if (kind, value) == ("paren", "("):
            self._i += 1
            inner = self._or()
            if self._peek() != ("paren", ")"):
                raise InvalidRequirement("unbalanced parenthesis in marker")
            self._i += 1
            return ("group", inner)
        lhs = self._value()
        kind, op = self._peek()
        if kind != "op":
            raise InvalidRequirement(f"expected a marker operator, got {op!r}")
        self._i += 1
        return ("cmp", lhs, op, self._value())

    def _value(self):
        kind, value = self._peek()
        if kind == "str":
            self._i += 1
            return ("str", value[1:-1])
        if kind == "var":
            self._i += 1
            return ("var", value)
        raise InvalidRequirement(f"expected a marker value, got {value!r}")

    def __str__(self) -> str:
        def render(node):
            if node[0] in ("or", "and"):
                return f"{render(node[1])} {node[0]} {render(node[2])}"
            if node[0] == "group":
                return f"({render(node[1])})"
            _, lhs, op, rhs = node
            return f"{render_value(lhs)} {op} {render_value(rhs)}"

        def render_value(v):
            return f'"{v[1]}"' if v[0] == "str" else v[1]

        return render(self.tree)

    def evaluate(self, extra: str = "") -> bool:
        env = dict(ENVIRONMENT, extra=extra)

        def value(v):
            if v[0] == "str":
                return v[1]
            if v[1] not in env:
                raise InvalidRequirement(f"unknown marker variable {v[1]!r}")
            return env[v[1]]

        def ev(node):
            if node[0] == "or":
                return ev(node[1]) or ev(node[2])
            if node[0] == "and":
                return ev(node[1]) and ev(node[2])
            if node[0] == "group":
                return ev(node[1])
            _, lhs, op, rhs = node
            left, right = value(lhs), value(rhs)
            if lhs == ("var", "extra") or rhs == ("var", "extra"):
                left, right = canonical(left), canonical(right)
            if op == "in":
                return left in right
            if op == "not in":
                return left not in right
            try:
                return Specifier(f"{op}{right}").contains(Version(left))
            except (InvalidVersion, ValueError):
                pass
            return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                    ">": left > right, ">=": left >= right, "===": left == right}.get(op, False)

        return ev(self.tree)


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*")


class Requirement:
    def __init__(self, text: str) -> None:
        self.text = text.strip()
        body, marker = self.text, None
        if ";" in body:
            body, marker_text = body.split(";", 1)
            marker = Marker(marker_text)
        self.marker = marker
        m = _NAME.match(body)
        if not m:
            raise InvalidRequirement(f"Invalid requirement: '{text.strip()}'")
        self.name = m[1]
        rest = body[m.end():]
        self.extras: list[str] = []
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise InvalidRequirement(f"Invalid requirement: '{text.strip()}'")
            self.extras = sorted({canonical(e.strip()) for e in rest[1:end].split(",") if e.strip()})
            rest = rest[end + 1:].strip()
        self.url = None
        if rest.startswith("@"):
            self.url = rest[1:].strip()
            rest = ""
        rest = rest.strip()
        if rest.startswith("(") and rest.endswith(")"):
            rest = rest[1:-1]
        try:
            self.specifier = SpecifierSet(rest)
        except ValueError as e:
            raise InvalidRequirement(f"Invalid requirement: '{text.strip()}': {e}") from None

    @property
    def key(self) -> str:
        return canonical(self.name)

    def applies(self, extras: tuple[str, ...] = ()) -> bool:
        if self.marker is None:
            return True
        if not extras:
            return self.marker.evaluate("")
        return any(self.marker.evaluate(e) for e in extras)

    def __str__(self) -> str:
        out = self.name
        if self.extras:
            out += "[" + ",".join(self.extras) + "]"
        if self.url:
            out += f" @ {self.url}"
        else:
            out += str(self.specifier)
        if self.marker is not None:
            out += ("; " if not self.url else " ; ") + str(self.marker)
        return out
