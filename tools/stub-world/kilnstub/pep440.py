"""PEP 440 versions and specifiers (the subset pip's resolver and `pip check`
use), stdlib only: the stub image has no `packaging`."""

from __future__ import annotations

import re
from functools import total_ordering

_VERSION = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}


class InvalidVersion(ValueError):
    pass


@total_ordering
class Version:
    def __init__(self, text: str) -> None:
        m = _VERSION.match(text)
        if not m:
            raise InvalidVersion(f"Invalid version: '{text}'")
        self.epoch = int(m["epoch"] or 0)
        self.release = tuple(int(p) for p in m["release"].split("."))
        self.pre = (_PRE[m["pre_l"].lower()], int(m["pre_n"] or 0)) if m["pre_l"] else None
        if m["post_n1"] is not None:
            self.post = int(m["post_n1"])
        elif m["post_l"]:
            self.post = int(m["post_n2"] or 0)
        else:
            self.post = None
        self.dev = int(m["dev_n"] or 0) if m["dev_l"] else None
        self.local = tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"[-_.]", m["local"])) if m["local"] else None

    @property
    def public(self) -> str:
        return str(self).split("+", 1)[0]

    @property
    def base_version(self) -> str:
        epoch = f"{self.epoch}!" if self.epoch else ""
        return epoch + ".".join(str(p) for p in self.release)

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    @property
    def is_postrelease(self) -> bool:
        return self.post is not None

    def __str__(self) -> str:
        out = self.base_version
        if self.pre:
            out += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            out += f".post{self.post}"
        if self.dev is not None:
            out += f".dev{self.dev}"
        if self.local:
            out += "+" + ".".join(str(p) for p in self.local)
        return out

    def __repr__(self) -> str:
        return f"<Version {self}>"

    def _key(self):
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        inf, ninf = (1, ()), (-1, ())
        if self.pre is None and self.post is None and self.dev is not None:
            pre = ninf
        elif self.pre is None:
            pre = inf
        else:
            pre = (0, (("a", "b", "rc").index(self.pre[0]), self.pre[1]))
        post = ninf if self.post is None else (0, self.post)
        dev = inf if self.dev is None else (0, self.dev)
        if self.local is None:
            local: tuple = ((-1, ""),)
        else:
            local = tuple((1, p, "") if isinstance(p, int) else (0, 0, p) for p in self.local)
        return (self.epoch, tuple(release), pre, post, dev, local)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: "Version") -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def parse_version(text: str) -> Version:
    return Version(text)


_SPEC = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*$")


class InvalidSpecifier(ValueError):
    pass


class Specifier:
    """One clause: `>=2`, `==2.8.*`, `~=1.4.2`, `!=1.0`."""

    def __init__(self, text: str) -> None:
        m = _SPEC.match(text)
        if not m:
            raise InvalidSpecifier(f"Invalid specifier: '{text}'")
        self.op, self.version = m[1], m[2]
        if self.op != "===":
            body = self.version[:-2] if self.version.endswith(".*") else self.version
            if self.version.endswith(".*") and self.op not in ("==", "!="):
                raise InvalidSpecifier(f"Invalid specifier: '{text}'")
            Version(body)

    def __str__(self) -> str:
        return f"{self.op}{self.version}"

    @property
    def is_prerelease(self) -> bool:
        if self.version.endswith(".*") or self.op == "===":
            return False
        return Version(self.version).is_prerelease

    def contains(self, candidate: Version) -> bool:
        op, text = self.op, self.version
        if op == "===":
            return str(candidate) == text
        if op in ("==", "!="):
            if text.endswith(".*"):
                prefix = Version(text[:-2])
                cand = list(Version(candidate.public).release)
                want = list(prefix.release)
                # A prefix match compares the release segment padded to the prefix's length.
                cand += [0] * max(0, len(want) - len(cand))
                match = candidate.epoch == prefix.epoch and cand[: len(want)] == want
            else:
                spec = Version(text)
                # A public specifier ignores the candidate's local label (2.8.0 == 2.8.0+cu128).
                cand = Version(candidate.public) if spec.local is None else candidate
                match = cand == spec
            return match if op == "==" else not match
        spec = Version(text)
        public = Version(candidate.public)
        if op == "<=":
            return public <= spec
        if op == ">=":
            return public >= spec
        if op == "<":
            if not public < spec:
                return False
            return not (not spec.is_prerelease and candidate.is_prerelease and Version(candidate.base_version) == Version(spec.base_version))
        if op == ">":
            if not public > spec:
                return False
            if not spec.is_postrelease and candidate.is_postrelease and Version(candidate.base_version) == Version(spec.base_version):
                return False
            return not (candidate.local is not None and Version(candidate.base_version) == Version(spec.base_version))
        if op == "~=":
            if len(spec.release) < 2:
                raise InvalidSpecifier(f"Invalid specifier: '~={text}'")
            prefix = ".".join(str(p) for p in spec.release[:-1]) + ".*"
            return Specifier(f">={text}").contains(candidate) and Specifier(f"=={prefix}").contains(candidate)
        raise InvalidSpecifier(op)


class SpecifierSet:
    def __init__(self, text: str = "") -> None:
        self.specs = [Specifier(p) for p in text.split(",") if p.strip()]

    def __str__(self) -> str:
        # Like packaging: clauses sorted by their text (`numpy<2.3.0,>=2`).
        return ",".join(sorted(str(s) for s in self.specs))

    def __bool__(self) -> bool:
        return bool(self.specs)

    def contains(self, version: Version, prereleases: bool | None = None) -> bool:
        if prereleases is None:
            prereleases = any(s.is_prerelease for s in self.specs)
        if version.is_prerelease and not prereleases:
            return False
        return all(s.contains(version) for s in self.specs)
