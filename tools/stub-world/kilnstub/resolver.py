"""pip's resolver as far as Kiln's images can notice it, from the table:
requested specs, dependencies (Requires-Dist, markers for CPython 3.12 on
Linux x86_64), constraints, index rules, "keep what is installed if it
satisfies", and pip's messages. Like real pip it ignores installed packages
that are not part of the request: replacing one under them is allowed and only
reported afterwards (see conflicts())."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import table
from .dists import Dist
from .pep440 import InvalidVersion, Version
from .pep508 import Requirement, canonical


class ResolutionError(Exception):
    def __init__(self, stdout: str, stderr: str) -> None:
        super().__init__(stderr)
        self.stdout, self.stderr = stdout, stderr


@dataclass
class Candidate:
    name: str  # display name
    version: str
    index: str
    build: str | None = None  # torch: which CUDA build (cu126, cu128, ...)
    requires: list[str] = field(default_factory=list)
    known: bool = True

    @property
    def key(self) -> str:
        return canonical(self.name)


def candidates(name: str, indexes: list[str], specs: list[Requirement]) -> list[Candidate]:
    entry = table.package(name)
    out: list[Candidate] = []
    if entry is None:
        if not any(i == "pypi" or table.index_hosts(i, name) for i in indexes):
            return []
        # Unknown to the table: any version the request pins or bounds, else 1.0.0; no dependencies.
        texts = {"1.0.0"}
        for r in specs:
            for s in r.specifier.specs:
                if s.op in ("==", "===", ">=", "~=", "<=") and not s.version.endswith(".*"):
                    texts.add(s.version)
        for t in texts:
            try:
                Version(t)
            except InvalidVersion:
                continue
            out.append(Candidate(name, t, indexes[0], known=False))
        return out
    for index in indexes:
        builds = entry.get("builds")
        if builds is not None:
            if index not in builds:
                continue
            listed = builds[index]
            for base, info in entry["versions"].items():
                if listed and base not in listed:
                    continue
                is_torch_index = "cuda" in table.load()["indexes"][index]
                # torch, torchvision, torchaudio carry the index as a local label there (2.7.1+cu128)
                version = f"{base}+{index}" if is_torch_index and entry.get("local_tag") else base
                build = listed.get(base, index) if listed else index
                out.append(Candidate(entry["name"], version, index, build, list(info.get("requires", []))))
        elif index == "pypi" or table.index_hosts(index, name):
            for base, info in entry["versions"].items():
                out.append(Candidate(entry["name"], base, index, None, list(info.get("requires", []))))
    return out


@dataclass
class Reason:
    req: Requirement
    parent: str | None  # None: the user asked; "(constraint)"; else "name version"
    root: str  # the user requirement this came from


class Resolver:
    def __init__(self, installed: dict[str, Dist], indexes: list[str], constraints: list[Requirement],
                 upgrade: bool = False, force: bool = False, no_deps: bool = False) -> None:
        self.installed = installed
        self.indexes = indexes
        self.constraints: dict[str, list[Requirement]] = {}
        for c in constraints:
            self.constraints.setdefault(c.key, []).append(c)
        self.upgrade, self.force, self.no_deps = upgrade, force, no_deps
        self.reasons: dict[str, list[Reason]] = {}
        self.extras: dict[str, set[str]] = {}
        self.picked: dict[str, Candidate | Dist] = {}
        self.order: list[str] = []
        self.log: list[str] = []

    def resolve(self, roots: list[tuple[Requirement, str]]) -> dict[str, Candidate | Dist]:
        queue = [(req, None, str(req), label) for req, label in roots]
        self.root_labels = {str(req): label for req, label in roots}
        steps = 0
        while queue:
            steps += 1
            if steps > 5000:
                raise ResolutionError("", "ERROR: ResolutionTooDeep: 5000 (kiln stub)\n")
            req, parent, root, _ = queue.pop(0)
            if parent is None and not req.applies(()):
                continue  # a dependency's marker was evaluated (with its parent's extras) when queued
            key = req.key
            self.reasons.setdefault(key, []).append(Reason(req, parent, root))
            new_extras = set(req.extras) - self.extras.get(key, set())
            self.extras.setdefault(key, set()).update(req.extras)
            current = self.picked.get(key)
            if current is not None and self._satisfies(current, key) and not new_extras:
                continue
            pick = self._pick(key, req.name, parent is None)
            changed = current is None or _version(pick) != _version(current)
            self.picked[key] = pick
            if key in self.order:
                self.order.remove(key)
            self.order.append(key)
            if (changed or new_extras) and not self.no_deps:
                label = f"{_name(pick)} {_version(pick)}"
                extras = tuple(sorted(self.extras.get(key, ())))
                for dep in _requires(pick):
                    dreq = Requirement(dep)
                    if dreq.applies(extras):
                        queue.append((dreq, label, root, None))
        return self.picked

    def _all_reqs(self, key: str) -> list[Requirement]:
        return [r.req for r in self.reasons.get(key, [])] + self.constraints.get(key, [])

    def _satisfies(self, pick, key: str) -> bool:
        v = Version(_version(pick))
        return all(r.specifier.contains(v, prereleases=True) for r in self._all_reqs(key))

    def _pick(self, key: str, name: str, is_root: bool) -> Candidate | Dist:
        reqs = self._all_reqs(key)
        have = self.installed.get(key)
        if have is not None and not self.force and not (is_root and self.upgrade):
            if self._satisfies(have, key):
                return have
        cands = candidates(name, self.indexes, reqs)
        prerelease_ok = any(s.is_prerelease for r in reqs for s in r.specifier.specs)

        def ok(c: Candidate, rs) -> bool:
            v = Version(c.version)
            return all(r.specifier.contains(v, prereleases=prerelease_ok) for r in rs)

        good = [c for c in cands if ok(c, reqs)]
        if good:
            best = max(good, key=lambda c: (Version(c.version), -self.indexes.index(c.index)))
            if have is not None and Version(_version(have)) == Version(best.version) and not self.force:
                return have
            return best
        # Why not: a conflict between what was asked, or no such version at all.
        user_only = [r.req for r in self.reasons.get(key, [])]
        if cands and (any(ok(c, user_only) for c in cands) or len(self._all_reqs(key)) > 1):
            raise self._impossible(key)
        shown = ", ".join(str(v) for v in sorted({Version(c.version) for c in cands})) or "none"
        want = str(self.reasons[key][-1].req)
        raise ResolutionError("", f"ERROR: Could not find a version that satisfies the requirement {want} (from versions: {shown})\n"
                                  f"ERROR: No matching distribution found for {want}\n")

    def _impossible(self, key: str) -> ResolutionError:
        roots = []
        lines = []
        for r in self.reasons.get(key, []):
            if r.root not in roots:
                roots.append(r.root)
            lines.append(f"    The user requested {r.req}" if r.parent is None else f"    {r.parent} depends on {r.req}")
        for c in self.constraints.get(key, []):
            lines.append(f"    The user requested (constraint) {c}")
        names = roots[0] if len(roots) == 1 else ", ".join(roots[:-1]) + " and " + roots[-1]
        stderr = f"ERROR: Cannot install {names} because these package versions have conflicting dependencies.\n"
        stdout = ("\nThe conflict is caused by:\n" + "\n".join(lines) + "\n\nTo fix this you could try to:\n"
                  "1. loosen the range of package versions you've specified\n"
                  "2. remove package versions to allow pip to attempt to solve the dependency conflict\n\n")
        stderr2 = "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts\n"
        return ResolutionError(stdout, stderr + stderr2)


def _version(pick) -> str:
    return pick.version


def _name(pick) -> str:
    return pick.name


def _requires(pick) -> list[str]:
    return list(pick.requires)


def broken(dists: dict[str, Dist], only: set[str] | None = None) -> tuple[list[tuple[Dist, Requirement]], list[tuple[Dist, Requirement, Dist]]]:
    """pip's check_package_set: (missing, conflicting) over installed dists;
    `only` limits the dists whose requirements are checked (pip install's whitelist)."""
    missing, conflicting = [], []
    for key in sorted(dists):
        if only is not None and key not in only:
            continue
        dist = dists[key]
        for text in dist.requires:
            try:
                req = Requirement(text)
            except ValueError:
                continue
            if not req.applies(()):
                continue
            dep = dists.get(req.key)
            if dep is None:
                missing.append((dist, req))
            elif not req.specifier.contains(Version(dep.version), prereleases=True):
                conflicting.append((dist, req, dep))
    return missing, conflicting


def install_whitelist(dists: dict[str, Dist], changed: set[str]) -> set[str]:
    """pip's _create_whitelist: what was installed plus what depends on it."""
    out = set(changed)
    for key, dist in dists.items():
        for text in dist.requires:
            try:
                if Requirement(text).key in changed:
                    out.add(key)
            except ValueError:
                continue
    return out
